with builtins; [ (splitVersion "1.2.3") (splitVersion "2.3pre1") (splitVersion "") (splitVersion "1-2_3.4") (splitVersion "abc") (splitVersion "1..2") ]
