builtins.toJSON (builtins.fromJSON ''{"z":1,"a":[true,null]}'')
