[ (false -> false || true) (true -> false == false) (!false -> false) ]
