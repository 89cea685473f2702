module gorun.local/benches/go

go 1.19
