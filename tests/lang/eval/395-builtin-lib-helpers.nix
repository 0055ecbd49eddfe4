with builtins; [ (isPath /a) (isPath "/a") (addErrorContext "ctx" 5) (unsafeDiscardStringContext "s") (hasContext "s") ]
