import LogIngest
