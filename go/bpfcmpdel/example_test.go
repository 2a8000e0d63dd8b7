// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

package bpfcmpdel_test

import (
	"errors"
	"log"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpfcmpdel/bpfcmpdel/go/bpfcmpdel"
)

// A conntrack-style GC: the datapath stamps each entry's first 8 bytes
// with bpf_ktime_get_ns() + timeout and refreshes them by cmpxchg,
// treating ^0 as "gone".  Every entry past its time goes, decided under
// its bucket's lock, and each deleted flow's NAT entry goes with it.
func Example() {
	ct, err := ebpf.LoadPinnedMap("/sys/fs/bpf/ct", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ct.Close()
	nat, err := ebpf.LoadPinnedMap("/sys/fs/bpf/nat", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer nat.Close()

	var now unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &now); err != nil {
		log.Fatal(err)
	}
	st, err := bpfcmpdel.GC(ct, bpfcmpdel.GCOptions{
		SweepOptions: bpfcmpdel.SweepOptions{
			FieldOffset:    0,
			FieldSize:      8,
			Threshold:      uint64(now.Nano()),
			Tombstone:      true,
			TombstoneValue: ^uint64(0),
		},
		OnDeleted: func(keys, _ []byte) {
			for k := keys; len(k) > 0; k = k[ct.KeySize():] {
				if err := nat.Delete(k[:ct.KeySize()]); err != nil &&
					!errors.Is(err, ebpf.ErrKeyNotExist) {
					log.Print(err)
				}
			}
		},
	})
	if errors.Is(err, bpfcmpdel.ErrModuleMissing) {
		log.Fatal(err) // says how to load it
	}
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("gc: %d scanned, %d deleted at %v", st.Scanned, st.Deleted,
		time.Duration(now.Nano()))
}

// An in-kernel cleaner that runs on every kernel, 6.1 too: the program
// names its conntrack map by a handle, a constant it was loaded with
// (const volatile __u32 ct_handle), and calls bpfcmpdel_handle_sweep().
func ExampleNewHandle() {
	spec, err := ebpf.LoadCollectionSpec("ct_cleaner.bpf.o")
	if err != nil {
		log.Fatal(err)
	}
	ct, err := ebpf.LoadPinnedMap("/sys/fs/bpf/ct", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ct.Close()
	h, err := bpfcmpdel.NewHandle(ct)
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	if err := spec.RewriteConstants(map[string]interface{}{"ct_handle": uint32(h)}); err != nil {
		log.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		log.Fatal(err)
	}
	defer coll.Close()
	// ... run the cleaner (BPF_PROG_RUN, a timer, an iterator) while h lives.
}
