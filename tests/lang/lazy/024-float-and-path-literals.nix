{ f = 2.5; p = /x/../y; u = http://a.b; }
