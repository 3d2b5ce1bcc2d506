
shopt*=

id
1
v,z*({"type":"Point","coordinates":[1.0,2.0]}26
shopÀÄÌ…Àô‰0-1-42"mariadb-bin.000001(Ò	08€º‹º