// The floor of the bench: a hello world packed exactly as mssql-role-check is, with the same
// embedded Node. Nothing a program can do starts faster than this.
process.stdout.write('hello\n');
