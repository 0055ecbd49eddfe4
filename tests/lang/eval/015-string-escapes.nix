"a\"b\\c\nd\re\tf"
