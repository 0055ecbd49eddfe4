[ http://example.org/foo?bar=1 https://x.y/z mailto:me@x.org ]
