let body = "one\ntwo"; in ''
  begin
    ${body}
  end''
