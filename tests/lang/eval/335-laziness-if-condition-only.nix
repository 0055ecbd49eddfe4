if 1 == 1 then 1 else throw "no"
