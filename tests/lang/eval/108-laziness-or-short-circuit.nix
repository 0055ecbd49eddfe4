[ (true || throw "no") (false && throw "no") (false -> throw "no") ]
