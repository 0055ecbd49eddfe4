let v = [ 1 1.5 "s" true null [ ] { } (x: x) /a ]; in
map (f: map f v) (with builtins; [ isInt isFloat isString isBool isNull isList isAttrs isFunction isPath ])
