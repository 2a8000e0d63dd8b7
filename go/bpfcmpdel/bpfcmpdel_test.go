// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

package bpfcmpdel_test

import (
	"encoding/binary"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpfcmpdel/bpfcmpdel/go/bpfcmpdel"
)

// Every test but TestModuleMissing needs the module, and runs in the VM.
func requireDevice(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/bpfcmpdel"); err != nil {
		t.Skip("/dev/bpfcmpdel absent: module not loaded")
	}
}

// entry is a conntrack-like value: what a GC judges, and a counter.
type entry struct {
	Lifetime uint64
	Packets  uint64
}

func newMap(t *testing.T, typ ebpf.MapType, max uint32) *ebpf.Map {
	t.Helper()
	return newMapFlags(t, typ, max, 0)
}

func newMapFlags(t *testing.T, typ ebpf.MapType, max, flags uint32) *ebpf.Map {
	t.Helper()
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: typ, KeySize: 4, ValueSize: 16,
		MaxEntries: max, Flags: flags})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func put(t *testing.T, m *ebpf.Map, key uint32, life uint64) {
	t.Helper()
	if err := m.Put(key, entry{Lifetime: life}); err != nil {
		t.Fatal(err)
	}
}

func present(m *ebpf.Map, key uint32) bool {
	var e entry
	return m.Lookup(key, &e) == nil
}

func TestDeleteResults(t *testing.T) {
	requireDevice(t)
	for _, typ := range []ebpf.MapType{ebpf.Hash, ebpf.LRUHash} {
		m := newMap(t, typ, 64)
		put(t, m, 1, 100)

		err := bpfcmpdel.Delete(m, uint32(1), uint64(99), 0, nil)
		if !errors.Is(err, bpfcmpdel.ErrChanged) || !errors.Is(err, unix.EBUSY) {
			t.Fatalf("%v: stale compare: %v, want ErrChanged and EBUSY", typ, err)
		}
		if !present(m, 1) {
			t.Fatalf("%v: a refused delete deleted", typ)
		}
		if err := bpfcmpdel.Delete(m, uint32(1), uint64(100), 0, nil); err != nil {
			t.Fatalf("%v: current compare: %v", typ, err)
		}
		if present(m, 1) {
			t.Fatalf("%v: not deleted", typ)
		}
		err = bpfcmpdel.Delete(m, uint32(1), uint64(100), 0, nil)
		if !errors.Is(err, bpfcmpdel.ErrNotExist) || !errors.Is(err, ebpf.ErrKeyNotExist) {
			t.Fatalf("%v: absent key: %v, want ErrNotExist and ebpf.ErrKeyNotExist", typ, err)
		}
	}
}

func TestModesAndSnapshots(t *testing.T) {
	requireDevice(t)
	m := newMap(t, ebpf.Hash, 64)
	put(t, m, 1, 5)
	put(t, m, 2, 6)
	tomb := &bpfcmpdel.Options{Mode: bpfcmpdel.ModeTombstone, Tombstone: ^uint64(0)}
	if err := bpfcmpdel.Delete(m, uint32(1), uint64(5), 0, tomb); err != nil {
		t.Fatalf("tombstone mode: %v", err)
	}
	var snap entry
	if err := m.Lookup(uint32(2), &snap); err != nil {
		t.Fatal(err)
	}
	if err := bpfcmpdel.DeleteSnapshot(m, uint32(2), snap, 0, 8, nil); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if present(m, 1) || present(m, 2) {
		t.Fatal("not deleted")
	}

	pc := newMap(t, ebpf.PerCPUHash, 8)
	n := possibleCPUs(t)
	vals := make([]entry, n)
	for i := range vals {
		vals[i].Lifetime = uint64(i + 1)
	}
	if err := pc.Put(uint32(3), vals); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 16*n)
	for i := range vals {
		binary.LittleEndian.PutUint64(raw[16*i:], vals[i].Lifetime)
	}
	// Every CPU's slot compared: the last one changed, the element stays.
	binary.LittleEndian.PutUint64(raw[16*(n-1):], 0)
	if err := bpfcmpdel.DeleteSnapshot(pc, uint32(3), raw, 0, 8, nil); !errors.Is(err,
		bpfcmpdel.ErrChanged) {
		t.Fatalf("per-CPU snapshot with a changed slot: %v", err)
	}
	one := &bpfcmpdel.Options{OneCPU: true, CPU: 0}
	if err := bpfcmpdel.Delete(pc, uint32(3), uint64(1), 0, one); err != nil {
		t.Fatalf("one CPU's slot: %v", err)
	}
	err := bpfcmpdel.Delete(pc, uint32(3), uint64(1), 0, nil)
	if !errors.Is(err, unix.EINVAL) {
		t.Fatalf("per-CPU map without a snapshot: %v, want EINVAL", err)
	}
}

// The slots a per-CPU lookup returns, from the kernel's own list.
func possibleCPUs(t *testing.T) int {
	b, err := os.ReadFile("/sys/devices/system/cpu/possible")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSpace(string(b))
	n, err := strconv.Atoi(s[strings.LastIndexByte(s, '-')+1:])
	if err != nil {
		t.Fatalf("possible CPUs %q: %v", s, err)
	}
	return n + 1
}

func TestUpdate(t *testing.T) {
	requireDevice(t)
	m := newMap(t, ebpf.LRUHash, 64)
	put(t, m, 1, 10)
	if err := bpfcmpdel.Update(m, uint32(1), uint64(10), uint64(20), 0, nil); err != nil {
		t.Fatalf("swap: %v", err)
	}
	err := bpfcmpdel.Update(m, uint32(1), uint64(10), uint64(30), 0, nil)
	if !errors.Is(err, bpfcmpdel.ErrChanged) {
		t.Fatalf("stale swap: %v", err)
	}
	var e entry
	if err := m.Lookup(uint32(1), &e); err != nil || e.Lifetime != 20 {
		t.Fatalf("after the swaps: %+v, %v", e, err)
	}
}

func TestDeleteBatch(t *testing.T) {
	requireDevice(t)
	m := newMap(t, ebpf.Hash, 1024)
	const n = 600 // past one of the kernel's chunks
	keys := make([]uint32, n)
	expected := make([]uint64, n)
	for i := range keys {
		keys[i] = uint32(i)
		expected[i] = uint64(i)
		switch i % 3 {
		case 0:
			put(t, m, uint32(i), uint64(i)) // current: deleted
		case 1:
			put(t, m, uint32(i), uint64(i)+1) // refreshed: kept
		}
	}
	results, err := bpfcmpdel.DeleteBatch(m, keys, expected, bpfcmpdel.BatchOptions{Size: 8})
	if err != nil || len(results) != n {
		t.Fatalf("batch: %d results, %v", len(results), err)
	}
	for i, res := range results {
		want := []error{nil, bpfcmpdel.ErrChanged, bpfcmpdel.ErrNotExist}[i%3]
		if (want == nil) != (res == nil) || (want != nil && !errors.Is(res, want)) {
			t.Fatalf("element %d: %v, want %v", i, res, want)
		}
		if present(m, uint32(i)) != (i%3 == 1) {
			t.Fatalf("element %d present: %v", i, present(m, uint32(i)))
		}
	}
}

func TestSweepAndSweeper(t *testing.T) {
	requireDevice(t)
	for _, c := range []struct{ values, elements bool }{
		{false, false}, {true, false}, {false, true}, {true, true},
	} {
		values := c.values
		m := newMap(t, ebpf.LRUHash, 4096)
		for i := uint32(0); i < 1000; i++ {
			put(t, m, i, uint64(i%2)*1000+uint64(i)) // even: below 1000
		}
		s := bpfcmpdel.NewSweeper(m, bpfcmpdel.SweepOptions{FieldSize: 8, Threshold: 1000,
			Values: values, Elements: c.elements, MaxOut: 64, Budget: 128})
		seen := map[uint32]int{}
		for s.Next() {
			k := binary.LittleEndian.Uint32(s.Key())
			seen[k]++
			if values && binary.LittleEndian.Uint64(s.Value()) != uint64(k) {
				t.Fatalf("key %d: value %x", k, s.Value())
			}
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if len(seen) != 500 || s.Scanned() < 1000 {
			t.Fatalf("%d deleted, %d scanned", len(seen), s.Scanned())
		}
		for i := uint32(0); i < 1000; i++ {
			if (i%2 == 0) != (seen[i] == 1) || present(m, i) != (i%2 == 1) {
				t.Fatalf("key %d: reported %d times, present %v", i, seen[i], present(m, i))
			}
		}
	}
}

// Every deleted key reaches OnDeleted once, with one goroutine or several
// sweeping ranges of the element array (preallocated maps) or of the
// buckets (seven on a map of four buckets leave three ranges empty).
func TestGCReportsEveryKey(t *testing.T) {
	requireDevice(t)
	for _, c := range []struct {
		threads, maxEntries, n int
		flags                  uint32
	}{
		{0, 8192, 5000, 0}, {2, 8192, 5000, 0}, {3, 8192, 5000, 0},
		{bpfcmpdel.GCThreadsMax, 8192, 5000, 0}, {7, 4, 4, 0},
		{0, 8192, 5000, unix.BPF_F_NO_PREALLOC}, {3, 8192, 5000, unix.BPF_F_NO_PREALLOC},
		{7, 4, 4, unix.BPF_F_NO_PREALLOC},
	} {
		m := newMapFlags(t, ebpf.Hash, uint32(c.maxEntries), c.flags)
		for i := 0; i < c.n; i++ {
			put(t, m, uint32(i), uint64(i))
		}
		gone := map[uint32]int{}
		st, err := bpfcmpdel.GC(m, bpfcmpdel.GCOptions{
			SweepOptions: bpfcmpdel.SweepOptions{FieldSize: 8, Threshold: uint64(c.n / 2)},
			Threads:      c.threads,
			OnDeleted: func(keys, values []byte) {
				for i := 0; i < len(keys); i += 4 {
					gone[binary.LittleEndian.Uint32(keys[i:])]++
				}
			},
		})
		if err != nil || st.Deleted != c.n/2 || len(gone) != c.n/2 || st.Scanned < c.n {
			t.Fatalf("%d threads, flags %#x: %+v, %d reported, %v", c.threads, c.flags,
				st, len(gone), err)
		}
		for i := uint32(0); i < uint32(c.n); i++ {
			if (gone[i] == 1) != (i < uint32(c.n/2)) || present(m, i) != (i >= uint32(c.n/2)) {
				t.Fatalf("%d threads, key %d: reported %d times, present %v", c.threads,
					i, gone[i], present(m, i))
			}
		}
	}
	m := newMap(t, ebpf.Hash, 16)
	put(t, m, 1, 0)
	_, err := bpfcmpdel.GC(m, bpfcmpdel.GCOptions{
		SweepOptions: bpfcmpdel.SweepOptions{FieldSize: 8, Threshold: 10},
		Threads:      bpfcmpdel.GCThreadsMax + 1,
	})
	if !errors.Is(err, unix.EINVAL) || !present(m, 1) {
		t.Fatalf("%d threads: %v, present %v; want EINVAL, nothing deleted",
			bpfcmpdel.GCThreadsMax+1, err, present(m, 1))
	}
}

func TestBadRequestsAndMaps(t *testing.T) {
	requireDevice(t)
	m := newMap(t, ebpf.Hash, 8)
	put(t, m, 1, 1)
	if err := bpfcmpdel.Delete(m, uint64(1), uint64(1), 0, nil); err == nil {
		t.Fatal("a key of the wrong size was taken")
	}
	err := bpfcmpdel.Delete(m, uint32(1), uint64(1), 12, nil)
	if !errors.Is(err, unix.EINVAL) {
		t.Fatalf("region past the value: %v", err)
	}
	arr, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 16,
		MaxEntries: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer arr.Close()
	err = bpfcmpdel.Delete(arr, uint32(1), uint64(0), 0, nil)
	if !errors.Is(err, bpfcmpdel.ErrNotSupported) || !errors.Is(err, ebpf.ErrNotSupported) {
		t.Fatalf("array map: %v, want ErrNotSupported", err)
	}
	if !present(m, 1) {
		t.Fatal("a refused request deleted")
	}
}

// A handle names its map until closed; only maps the module serves get one.
func TestHandles(t *testing.T) {
	requireDevice(t)
	m := newMap(t, ebpf.Hash, 8)
	h, err := bpfcmpdel.NewHandle(m)
	if err != nil || h == 0 {
		t.Fatalf("NewHandle: %v, %v", h, err)
	}
	again, err := bpfcmpdel.NewHandle(m)
	if err != nil || again == h {
		t.Fatalf("a second handle: %v (the first %v), %v", again, h, err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); !errors.Is(err, bpfcmpdel.ErrNotExist) {
		t.Fatalf("closed twice: %v, want ErrNotExist", err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
	arr, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 16,
		MaxEntries: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer arr.Close()
	if _, err := bpfcmpdel.NewHandle(arr); !errors.Is(err, bpfcmpdel.ErrNotSupported) {
		t.Fatalf("array map: %v, want ErrNotSupported", err)
	}
}

// Run by the guest after the module is unloaded.
func TestModuleMissing(t *testing.T) {
	if _, err := os.Stat("/dev/bpfcmpdel"); err == nil {
		t.Skip("needs the module unloaded")
	}
	m := newMap(t, ebpf.Hash, 8)
	put(t, m, 1, 1)
	err := bpfcmpdel.Delete(m, uint32(1), uint64(1), 0, nil)
	if !errors.Is(err, bpfcmpdel.ErrModuleMissing) || !errors.Is(err, unix.ENODEV) {
		t.Fatalf("%v, want ErrModuleMissing", err)
	}
	if !present(m, 1) {
		t.Fatal("deleted without the module")
	}
}
