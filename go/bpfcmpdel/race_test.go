// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

package bpfcmpdel_test

import (
	"encoding/binary"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/bpfcmpdel/bpfcmpdel/go/bpfcmpdel"
)

// tests/bpf/ct.h: the datapath's modes, its TTL, and a packet's layout.
const (
	ctCAS      = 2
	ctTTL      = 1000
	ctFlows    = 64
	tombstone  = ^uint64(0)
	packetSize = 16 + 16 + 8 // room for Ethernet, struct ct_key, now
)

// setGlobals writes the object's .bss variables by name.
func setGlobals(t *testing.T, spec *ebpf.CollectionSpec, coll *ebpf.Collection,
	vals map[string]uint64) {
	t.Helper()
	ds, ok := spec.Maps[".bss"].Value.(*btf.Datasec)
	if !ok {
		t.Fatal("no .bss in the object")
	}
	buf := make([]byte, ds.Size)
	for _, v := range ds.Vars {
		val, ok := vals[v.Type.TypeName()]
		switch {
		case !ok:
		case v.Size == 4:
			binary.LittleEndian.PutUint32(buf[v.Offset:], uint32(val))
		case v.Size == 8:
			binary.LittleEndian.PutUint64(buf[v.Offset:], val)
		}
	}
	if err := coll.Maps[".bss"].Update(uint32(0), buf, ebpf.UpdateAny); err != nil {
		t.Fatal(err)
	}
}

func flowKey(f uint32) []byte {
	k := make([]byte, 16)
	binary.LittleEndian.PutUint32(k, 0x0a000000+f) // saddr
	binary.LittleEndian.PutUint32(k[4:], 0x0a0000ff)
	k[12] = 6 // proto
	return k
}

// A GC pass given a threshold; it calls judge with each key it deleted,
// right after the delete.
type gcPass func(ct *ebpf.Map, threshold uint64, judge func(key []byte)) int

// raceDatapath runs tests/bpf/ct.bpf.c's XDP datapath, which refreshes
// each flow by cmpxchg, records the lifetime it set, and re-creates a
// flow it finds gone or tombstoned, against @pass for 3 s.  A flow the
// pass deleted whose recorded lifetime is at or past the pass's threshold
// was refreshed after the pass judged it; if it is absent right after the
// delete, that refresh went into the deleted element and was lost (one
// that came after the delete re-created the flow).
func raceDatapath(t *testing.T, pass gcPass) (deleted, lost int) {
	t.Helper()
	path := os.Getenv("BPFCMPDEL_CT_OBJ")
	if path == "" {
		t.Skip("BPFCMPDEL_CT_OBJ not set: no tests/bpf/ct.bpf.o to load")
	}
	spec, err := ebpf.LoadCollectionSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	setGlobals(t, spec, coll, map[string]uint64{"mode": ctCAS, "tombstone": tombstone})
	prog, ct, refreshed := coll.Programs["datapath"], coll.Maps["ct_lru"], coll.Maps["refreshed"]

	var tick uint64
	var stop int32
	var wg sync.WaitGroup
	var runErr error
	wg.Add(1)
	// Every flow is seen in the first 10 ticks and has expired 2 ticks
	// after it was last seen.  A quarter are busy, seen every 10th tick:
	// refreshed often enough to race a pass.  The rest are idle, seen
	// every 5000th: expired whenever a pass looks, however many ticks the
	// pass lasts (a KCSAN kernel's, walking a large map's every slot,
	// lasts hundreds, in which each busy flow is refreshed again).
	go func() {
		defer wg.Done()
		pkt := make([]byte, packetSize)
		for atomic.LoadInt32(&stop) == 0 {
			now := atomic.AddUint64(&tick, 1)
			for f := uint32(0); f < ctFlows; f++ {
				period := uint64(5000)
				if f%4 == 0 || now <= 10 {
					period = 10
				}
				if (uint64(f)+now)%period != 0 {
					continue
				}
				copy(pkt[16:], flowKey(f))
				binary.LittleEndian.PutUint64(pkt[32:], now*10)
				if _, _, err := prog.Test(pkt); err != nil {
					runErr = err
					return
				}
			}
		}
	}()
	var maxThreshold uint64
	passes := 0
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); passes++ {
		// Flows not seen for 2 ticks have expired.
		threshold := atomic.LoadUint64(&tick)*10 + ctTTL - 20
		if threshold > maxThreshold {
			maxThreshold = threshold
		}
		deleted += pass(ct, threshold, func(key []byte) {
			var life uint64
			var e entry
			if refreshed.Lookup(key, &life) == nil && life >= threshold &&
				ct.Lookup(key, &e) != nil {
				lost++
			}
		})
	}
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	if runErr != nil {
		t.Fatal(runErr)
	}
	// At the end, a flow refreshed past every threshold must be there.
	for f := uint32(0); f < ctFlows; f++ {
		var life uint64
		var e entry
		if refreshed.Lookup(flowKey(f), &life) == nil && life >= maxThreshold &&
			ct.Lookup(flowKey(f), &e) != nil {
			lost++
		}
	}
	t.Logf("%d passes, %d deleted over %d ticks, %d refreshes lost", passes, deleted,
		atomic.LoadUint64(&tick), lost)
	if deleted == 0 {
		t.Fatal("nothing expired: the race never happened")
	}
	return deleted, lost
}

func TestTombstoneGCRacingTheDatapathLosesNoRefresh(t *testing.T) {
	requireDevice(t)
	_, lost := raceDatapath(t, func(ct *ebpf.Map, threshold uint64, judge func([]byte)) int {
		st, err := bpfcmpdel.GC(ct, bpfcmpdel.GCOptions{
			SweepOptions: bpfcmpdel.SweepOptions{FieldSize: 8, Threshold: threshold,
				Tombstone: true, TombstoneValue: tombstone},
			OnDeleted: func(keys, _ []byte) {
				for k := keys; len(k) > 0; k = k[ct.KeySize():] {
					judge(k[:ct.KeySize()])
				}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		return st.Deleted
	})
	if lost != 0 {
		t.Fatalf("%d refreshes lost", lost)
	}
}

// The same race with a Cilium-style pass (iterate, then ebpf.Map.Delete):
// what it loses is measured and logged, as it depends on timing.
func TestPlainDeleteRacingTheDatapathIsMeasured(t *testing.T) {
	requireDevice(t)
	raceDatapath(t, func(ct *ebpf.Map, threshold uint64, judge func([]byte)) int {
		var key []byte
		var e entry
		var expired [][]byte
		it := ct.Iterate()
		for it.Next(&key, &e) {
			if e.Lifetime < threshold {
				expired = append(expired, append([]byte(nil), key...))
			}
		}
		n := 0
		for _, k := range expired {
			if ct.Delete(k) == nil {
				judge(k)
				n++
			}
		}
		return n
	})
}
