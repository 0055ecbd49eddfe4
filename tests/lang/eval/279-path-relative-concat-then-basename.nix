baseNameOf (./fixtures + "/hello.txt")
