if true then "taken" else throw "no"
