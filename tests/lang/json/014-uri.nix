[ http://example.org/a https://b.c/d?e=f ]
