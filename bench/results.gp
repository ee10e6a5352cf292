# bench/results.png from the data bench/run writes (gnuplot -e "datadir='...'; outfile='...'").
# Left: throughput in thousands of operations per second; right: latency in microseconds (log).
if (!exists("datadir")) datadir = "."
if (!exists("outfile")) outfile = "results.png"
set terminal pngcairo size 1400,560 font "sans,10" noenhanced
set output outfile
set multiplot layout 1,2 title "ttl-semlock vs Redis (same run, server on CPU 1, clients on CPU 0)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top right
set grid ytics
set xtics rotate by -30 scale 0
set title "Throughput (k/s, log scale; ops for redis-benchmark, cycles or grants for the loadgen)"
set logscale y
set ylabel "k/s"
set yrange [*:*]
plot datadir."/throughput.dat" using 2:xtic(1) title columnhead(2) lc rgb "#1f77b4", \
     "" using 3 title columnhead(3) lc rgb "#d62728"
set title "Latency (µs, log scale; lower is better)"
set ylabel "µs"
set logscale y
set yrange [*:*]
plot datadir."/latency.dat" using 2:xtic(1) title columnhead(2) lc rgb "#1f77b4", \
     "" using 3 title columnhead(3) lc rgb "#d62728"
unset multiplot
