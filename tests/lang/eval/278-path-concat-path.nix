/a + /b
