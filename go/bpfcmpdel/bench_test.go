// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

package bpfcmpdel_test

import (
	"errors"
	"os"
	"strconv"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpfcmpdel/bpfcmpdel/go/bpfcmpdel"
)

// bench/cmpdel_bench.c's GC map: an LRU hash of 1M uint32 keys whose values
// are bench/bench.h's struct bench_value, live entries' lifetime gcLive.
const (
	gcLive  = uint64(1) << 40
	gcChunk = 4096
)

// gcValue is bench/bench.h's struct bench_value.
type gcValue struct {
	Lifetime, Packets uint64
}

// gcCilium is Cilium's ctmap GC, on cilium/ebpf alone: the map read in
// batches, a BPF_MAP_DELETE_ELEM per expired key.
func gcCilium(m *ebpf.Map) (int, error) {
	keys := make([]uint32, gcChunk)
	vals := make([]gcValue, gcChunk)
	var prev, next uint32
	var cursor interface{}
	deleted := 0

	for {
		n, err := m.BatchLookup(cursor, &next, keys, vals, nil)
		if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return deleted, err
		}
		for i := 0; i < n; i++ {
			if vals[i].Lifetime < gcLive &&
				m.Delete(keys[i]) == nil {
				deleted++
			}
		}
		if err != nil {
			return deleted, nil
		}
		prev = next
		cursor = &prev
	}
}

// BenchmarkGCPinned is one whole GC pass over the map make bench's C
// harness (bench/cmpdel_bench.c) filled and pinned at
// $BPFCMPDEL_BENCH_MAP, with $BPFCMPDEL_BENCH_EXPIRED entries expired: the
// harness runs each sub-benchmark (-test.benchtime 1x) as one more method
// in its turn beside the C library's pass, on the same map and fill, so
// the Go package is compared with the C library trial by trial.
func BenchmarkGCPinned(b *testing.B) {
	path := os.Getenv("BPFCMPDEL_BENCH_MAP")
	if path == "" {
		b.Skip("run by bench/cmpdel_bench.c: BPFCMPDEL_BENCH_MAP unset")
	}
	want, err := strconv.Atoi(os.Getenv("BPFCMPDEL_BENCH_EXPIRED"))
	if err != nil {
		b.Fatalf("BPFCMPDEL_BENCH_EXPIRED: %v", err)
	}
	m, err := ebpf.LoadPinnedMap(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()

	passes := []struct {
		name string
		gc   func(*ebpf.Map) (int, error)
	}{
		{"gc", func(m *ebpf.Map) (int, error) {
			st, err := bpfcmpdel.GC(m, bpfcmpdel.GCOptions{
				SweepOptions: bpfcmpdel.SweepOptions{FieldSize: 8, Threshold: gcLive,
					Budget: bpfcmpdel.SweepBudgetMax},
			})
			return st.Deleted, err
		}},
		{"cilium-style", gcCilium},
	}
	for _, p := range passes {
		b.Run(p.name, func(b *testing.B) {
			// The map is filled once: a second pass would find nothing.
			if b.N != 1 {
				b.Fatalf("one pass a run (-test.benchtime 1x), not %d", b.N)
			}
			got, err := p.gc(m)
			if err != nil || got != want {
				b.Fatalf("deleted %d of %d: %v", got, want, err)
			}
		})
	}
}
