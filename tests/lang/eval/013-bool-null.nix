[ true false null (!true) (!false) ]
