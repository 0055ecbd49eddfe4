x@y: x
