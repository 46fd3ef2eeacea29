package exec

import (
	"fmt"
	"sort"
)

// plan sets each buffer's lifetime and its offset in the arena. Inputs and outputs are pinned; any other
// buffer lives from the instruction that defines it to the last one that reads it (through a view
// too). Offsets are chosen greedily, largest buffer first, at the lowest place that overlaps no buffer
// whose lifetime overlaps its own: a value is never written while another live value shares its memory,
// which the host runner's test checks by comparing with a machine that gives every value its own memory.
func (p *Program) plan() {
	end := len(p.Instrs) - 1
	for i := range p.Buffers {
		p.Buffers[i].First, p.Buffers[i].Last = -1, -1
	}
	for i, ins := range p.Instrs {
		for _, bi := range p.buffersOf(ins.Out) {
			b := &p.Buffers[bi]
			if b.First < 0 {
				b.First = i
			}
			b.Last = max(b.Last, i)
			if ins.Kind == Input {
				b.Pinned = true
			}
		}
		if ins.Kind == Alias {
			continue // reading the packed gradients only names one of them: its own buffer, extended below
		}
		for _, v := range ins.In {
			for _, bi := range p.buffersOf(v) {
				u := &p.Buffers[bi]
				u.Last = max(u.Last, i)
			}
		}
	}
	for _, o := range p.Outputs {
		p.Buffers[p.Values[o].Buf].Pinned = true
	}
	for i := range p.Buffers {
		if p.Buffers[i].Pinned {
			p.Buffers[i].First, p.Buffers[i].Last = 0, end
		}
		if !p.Buffers[i].External {
			p.BufferTotal += p.Buffers[i].Size
		}
	}
	order := make([]int, len(p.Buffers))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return p.Buffers[order[a]].Size > p.Buffers[order[b]].Size })
	var placed []int
	for _, i := range order {
		b := &p.Buffers[i]
		if b.External {
			b.Offset = -1
			continue
		}
		b.Offset = lowestFree(p.Buffers, placed, b)
		p.ArenaSize = max(p.ArenaSize, b.Offset+b.Size)
		placed = append(placed, i)
	}
}

// buffersOf is the buffers value v occupies: its own, or its parts'.
func (p *Program) buffersOf(v int) []int {
	val := p.Values[v]
	if val.Buf >= 0 {
		return []int{val.Buf}
	}
	var out []int
	for _, q := range val.Parts {
		out = append(out, p.Values[q].Buf)
	}
	return out
}

// lowestFree is the lowest offset where b fits between the placed buffers that are alive with it.
func lowestFree(all []Buffer, placed []int, b *Buffer) int {
	var busy [][2]int
	for _, j := range placed {
		o := all[j]
		if o.First <= b.Last && b.First <= o.Last {
			busy = append(busy, [2]int{o.Offset, o.Offset + o.Size})
		}
	}
	sort.Slice(busy, func(a, c int) bool { return busy[a][0] < busy[c][0] })
	off := 0
	for _, r := range busy {
		if off+b.Size <= r[0] {
			break
		}
		off = max(off, r[1])
	}
	return off
}

// CheckLayout verifies the arena layout: every buffer inside the arena, and no two buffers that are
// alive at the same instruction overlapping.
func (p *Program) CheckLayout() error {
	for i, a := range p.Buffers {
		if a.External {
			continue
		}
		if a.Offset < 0 || a.Offset+a.Size > p.ArenaSize {
			return fmt.Errorf("exec: buffer %d [%d, %d) outside the arena of %d", i, a.Offset, a.Offset+a.Size, p.ArenaSize)
		}
		if a.First < 0 || a.Last < a.First {
			return fmt.Errorf("exec: buffer %d lives [%d, %d]", i, a.First, a.Last)
		}
		for j := i + 1; j < len(p.Buffers); j++ {
			b := p.Buffers[j]
			if b.External {
				continue
			}
			live := a.First <= b.Last && b.First <= a.Last
			overlap := a.Offset < b.Offset+b.Size && b.Offset < a.Offset+a.Size
			if live && overlap {
				return fmt.Errorf("exec: buffers %d [%d, %d) and %d [%d, %d) overlap while both live (%d–%d, %d–%d)",
					i, a.Offset, a.Offset+a.Size, j, b.Offset, b.Offset+b.Size, a.First, a.Last, b.First, b.Last)
			}
		}
	}
	return nil
}
