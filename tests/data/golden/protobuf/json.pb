
shopt*.

id
"
vr{"a":[1,2.5,"x",null,true]}26
shopÀÄÌ…Àô‰0-1-42"mariadb-bin.000001(Ò	08€º‹º