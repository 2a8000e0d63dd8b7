# SPDX-License-Identifier: GPL-2.0
# make bench's pictures, from the data scripts/bench.sh extracts:
#   curve.dat: a GC pass against the map's size, "entries ms" lines in six
#              blocks (two blank lines apart): Cilium-style, Calico-style,
#              the sweep, on an LRU map, then the same on a hash map
#   ratio.dat: "map cmpdel batch1024 deletebatch lookupdelete", each
#              method's time per element over BPF_MAP_DELETE_ELEM's (the
#              sweep's is the whole map's cost over the expired: not shown)
# gnuplot -e "dir='build'" bench/plots.gnuplot writes dir/bench-gc-size.svg
# and dir/bench-ratio.svg.
set terminal svg size 720,440 dynamic enhanced font "sans,12" background rgb "white"
set key top left box opaque
set grid

set output dir."/bench-gc-size.svg"
set title "A whole GC pass, a tenth expired (wall clock, TCG)"
set logscale xy 2
set xlabel "map entries"
set ylabel "ms per pass"
set format x "%.0b%B"
set xtics 4
names = "Cilium-style Calico-style bpfcmpdel\\_sweep"
plot for [i = 0:5] dir."/curve.dat" index i using 1:2 with linespoints lw 2 \
	lt i % 3 + 1 dashtype int(i / 3) + 1 pt 7 - 2 * int(i / 3) \
	title sprintf("%s, %s", word(names, i % 3 + 1), i < 3 ? "LRU" : "hash")

set output dir."/bench-ratio.svg"
set title "Time per deleted element over BPF\\_MAP\\_DELETE\\_ELEM's (instruction counts)"
unset logscale
set xlabel ""
set ylabel "ratio (1 = BPF\\_MAP\\_DELETE\\_ELEM)"
set format x "%g"
set yrange [0:*]
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30 nomirror
set key outside bottom center horizontal maxrows 2
plot dir."/ratio.dat" using 2:xtic(1) title "bpfcmpdel delete", \
	'' using 3 title "bpfcmpdel batch of 1024", \
	'' using 4 title "BPF\\_MAP\\_DELETE\\_BATCH", \
	'' using 5 title "lookup, then delete", \
	1 with lines lc rgb "black" dt 2 notitle
