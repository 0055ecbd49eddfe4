"line1
line2
	tabbed"
