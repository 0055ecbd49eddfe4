[ /a/b /a/b/./c /a/b/../c /a/b/.. /x/y/z ]
