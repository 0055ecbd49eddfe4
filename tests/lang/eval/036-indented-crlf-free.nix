''  leading on first line
  next''
