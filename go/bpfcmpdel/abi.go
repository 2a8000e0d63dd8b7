// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

package bpfcmpdel

import "unsafe"

// The ABI of uapi/bpfcmpdel/ioctl.h, field for field.  The uapi tag names
// each field as the header does: TestABIMatchesHeader holds every size,
// offset, flag and command number to it.

const devicePath = "/dev/bpfcmpdel"

// Request flags (BPFCMPDEL_F_*).
const (
	flagSnapshot    = 1 << 0
	flagLock        = 1 << 1
	flagTombstone   = 1 << 2
	flagCPU         = 1 << 3
	flagSweepValues = 1 << 4
	flagSweepElems  = 1 << 5
)

// Sweep constants (BPFCMPDEL_SWEEP_*) and the batch bound.
const (
	// SweepEnd is the cursor of a sweep that walked the whole map.
	SweepEnd = ^uint64(0)
	// SweepBudget is the buckets a sweep call visits when asked for 0.
	SweepBudget = 1024
	// SweepBudgetMax is the most buckets one sweep call may visit.
	SweepBudgetMax = 65536
	// BatchMax is the most elements one DeleteBatch call may carry.
	BatchMax = 1 << 20
)

type req struct {
	Size          uint32 `uapi:"size"`
	MapFD         uint32 `uapi:"map_fd"`
	Flags         uint64 `uapi:"flags"`
	Key           uint64 `uapi:"key"`
	Expected      uint64 `uapi:"expected"`
	CompareOffset uint32 `uapi:"compare_offset"`
	CompareSize   uint32 `uapi:"compare_size"`
	CPU           uint32 `uapi:"cpu"`
	Reserved      uint32 `uapi:"reserved"`
	Tombstone     uint64 `uapi:"tombstone"`
	Value         uint64 `uapi:"value"`
}

type batchReq struct {
	Size          uint32 `uapi:"size"`
	MapFD         uint32 `uapi:"map_fd"`
	Flags         uint64 `uapi:"flags"`
	Keys          uint64 `uapi:"keys"`
	Expected      uint64 `uapi:"expected"`
	Results       uint64 `uapi:"results"`
	Count         uint32 `uapi:"count"`
	CompareOffset uint32 `uapi:"compare_offset"`
	CompareSize   uint32 `uapi:"compare_size"`
	CPU           uint32 `uapi:"cpu"`
	Tombstone     uint64 `uapi:"tombstone"`
}

type sweepReq struct {
	Size        uint32 `uapi:"size"`
	MapFD       uint32 `uapi:"map_fd"`
	Flags       uint64 `uapi:"flags"`
	Cursor      uint64 `uapi:"cursor"`
	Threshold   uint64 `uapi:"threshold"`
	Tombstone   uint64 `uapi:"tombstone"`
	Keys        uint64 `uapi:"keys"`
	Values      uint64 `uapi:"values"`
	FieldOffset uint32 `uapi:"field_offset"`
	FieldSize   uint32 `uapi:"field_size"`
	MaxOut      uint32 `uapi:"max_out"`
	Budget      uint32 `uapi:"budget"`
	NrDeleted   uint32 `uapi:"nr_deleted"`
	NrScanned   uint32 `uapi:"nr_scanned"`
}

type handleReq struct {
	Size   uint32 `uapi:"size"`
	MapFD  uint32 `uapi:"map_fd"`
	Handle uint32 `uapi:"handle"`
	Flags  uint32 `uapi:"flags"`
}

// HandlesMax is the most map handles live at once (BPFCMPDEL_HANDLES_MAX).
const HandlesMax = 256

// ioctl command numbers, as linux/ioctl.h's _IOW and _IOWR make them.
const (
	iocMagic = 0xB9
	iocWrite = 1
	iocRead  = 2
)

func ioc(dir, nr, size uintptr) uintptr {
	return dir<<30 | size<<16 | iocMagic<<8 | nr
}

var (
	iocDelete      = ioc(iocWrite, 1, unsafe.Sizeof(req{}))
	iocDeleteBatch = ioc(iocWrite|iocRead, 2, unsafe.Sizeof(batchReq{}))
	iocSweep       = ioc(iocWrite|iocRead, 3, unsafe.Sizeof(sweepReq{}))
	iocUpdate      = ioc(iocWrite, 4, unsafe.Sizeof(req{}))
	iocHandleNew   = ioc(iocWrite|iocRead, 5, unsafe.Sizeof(handleReq{}))
	iocHandleFree  = ioc(iocWrite, 6, unsafe.Sizeof(handleReq{}))
)
