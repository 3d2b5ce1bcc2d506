
shopt" 

id

v:cafÃ© "q"
â€¨2.
shopÀÄÌ…Àô‰"mariadb-bin.000001(Ò	08€º‹º