''a''\nb''\rc''\td''
