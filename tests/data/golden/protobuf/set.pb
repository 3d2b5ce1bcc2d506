
shopt* 

id

vŠ
one
three26
shopÀÄÌ…Àô‰0-1-42"mariadb-bin.000001(Ò	08€º‹º