let n = "c"; in [ /a/b/${n} /a/${n}/d /a/${n}${n} ]
