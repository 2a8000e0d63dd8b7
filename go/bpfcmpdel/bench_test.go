// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

package bpfcmpdel_test

import (
	"encoding/binary"
	"errors"
	"os"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpfcmpdel/bpfcmpdel/go/bpfcmpdel"
)

// make bench's Go rows: a whole GC pass over an LRU hash of 1M entries, a
// tenth of them expired, made as bench/cmpdel_bench.c makes its own (the
// same keys, value layout and expired stride), so the C library's pass
// and this package's can be set side by side.
const (
	gcEntries = 1 << 20
	gcStride  = 10
	gcExpired = uint64(1)
	gcLive    = uint64(1) << 40
	gcChunk   = 4096
)

// gcValue is bench/bench.h's struct bench_value.
type gcValue struct {
	Lifetime, Packets uint64
}

// gcFill writes every key, every gcStride-th expired; the count expired.
func gcFill(b *testing.B, m *ebpf.Map) int {
	keys := make([]uint32, gcChunk)
	vals := make([]gcValue, gcChunk)
	expired := 0

	for i := 0; i < gcEntries; i += gcChunk {
		for j := range keys {
			life := gcLive
			if (i+j)%gcStride == 0 {
				life = gcExpired
				expired++
			}
			keys[j] = uint32(i + j)
			vals[j] = gcValue{Lifetime: life}
		}
		if _, err := m.BatchUpdate(keys, vals, nil); err != nil {
			b.Fatal(err)
		}
	}
	return expired
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

// BenchmarkGCPass: one op is one whole GC pass; the refill between passes
// is not timed.  Run by make bench in the VM (-test.bench GCPass).
func BenchmarkGCPass(b *testing.B) {
	if _, err := os.Stat("/dev/bpfcmpdel"); err != nil {
		b.Skip("/dev/bpfcmpdel absent: module not loaded")
	}
	// Room to spare, as cmpdel_bench leaves: an LRU map evicts before it
	// is quite full.
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.LRUHash, KeySize: 4,
		ValueSize: uint32(binary.Size(gcValue{})), MaxEntries: gcEntries + gcEntries/4})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()

	passes := []struct {
		name string
		gc   func(*ebpf.Map) (int, error)
	}{
		{"bpfcmpdel.GC", func(m *ebpf.Map) (int, error) {
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
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				want := gcFill(b, m)
				b.StartTimer()
				got, err := p.gc(m)
				if err != nil || got != want {
					b.Fatalf("deleted %d of %d: %v", got, want, err)
				}
			}
		})
	}
}
