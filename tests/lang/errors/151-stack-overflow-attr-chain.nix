let f = n: { next = (f (n + 1)).next; }; in (f 0).next
