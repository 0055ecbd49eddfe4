throw { }
