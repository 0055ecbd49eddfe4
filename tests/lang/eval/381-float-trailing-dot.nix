[ 1. (builtins.typeOf 1.) 2.e3 ]
