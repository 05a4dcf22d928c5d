"""Lightning callbacks of conf/callbacks: training control, run records, energy."""
