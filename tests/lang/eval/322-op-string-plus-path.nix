"prefix" + toString /a/b
