({ d ? b, b ? c, c ? d }: d) { }
