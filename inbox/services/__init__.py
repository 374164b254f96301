"""Every write to the inbox's models, one module per area. Views, consumers, tasks and commands
parse their input and call one function from here."""
