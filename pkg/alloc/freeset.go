package alloc

import "math/bits"

// freeSet is a two-level bitmap of pool offsets believed free. A set bit in
// words marks a free offset; a set bit in summary marks a non-zero word, so
// finding the next free offset skips 4096 used addresses per summary word.
type freeSet struct {
	n       uint64 // number of offsets
	words   []uint64
	summary []uint64
	count   uint64 // set bits
}

func newFreeSet(n uint64) *freeSet {
	w := (n + 63) / 64
	return &freeSet{
		n:       n,
		words:   make([]uint64, w),
		summary: make([]uint64, (w+63)/64),
	}
}

// fill marks every offset free.
func (f *freeSet) fill() {
	for i := range f.words {
		f.words[i] = ^uint64(0)
	}
	if r := f.n % 64; r != 0 {
		f.words[len(f.words)-1] = 1<<r - 1
	}
	for w := range f.words {
		f.summary[w/64] |= 1 << (w % 64)
	}
	f.count = f.n
}

func (f *freeSet) set(i uint64) {
	w := i / 64
	if f.words[w]&(1<<(i%64)) != 0 {
		return
	}
	f.words[w] |= 1 << (i % 64)
	f.summary[w/64] |= 1 << (w % 64)
	f.count++
}

func (f *freeSet) clear(i uint64) {
	w := i / 64
	if f.words[w]&(1<<(i%64)) == 0 {
		return
	}
	f.words[w] &^= 1 << (i % 64)
	if f.words[w] == 0 {
		f.summary[w/64] &^= 1 << (w % 64)
	}
	f.count--
}

// next returns the first free offset at or after from, wrapping round to
// the start of the pool.
func (f *freeSet) next(from uint64) (uint64, bool) {
	if f.count == 0 {
		return 0, false
	}
	if from >= f.n {
		from = 0
	}
	if i, ok := f.nextIn(from, f.n); ok {
		return i, true
	}
	return f.nextIn(0, from)
}

// nextIn finds the first set bit in [from, to).
func (f *freeSet) nextIn(from, to uint64) (uint64, bool) {
	for from < to {
		w := from / 64
		word := f.words[w] >> (from % 64)
		if word != 0 {
			i := from + uint64(bits.TrailingZeros64(word))
			return i, i < to
		}
		// Nothing left in this word: use the summary to find the next
		// non-zero word.
		nw, ok := f.nextWord(w + 1)
		if !ok {
			return 0, false
		}
		from = nw * 64
	}
	return 0, false
}

// nextWord returns the index of the first non-zero word at or after w.
func (f *freeSet) nextWord(w uint64) (uint64, bool) {
	for s := w / 64; s < uint64(len(f.summary)); s++ {
		sum := f.summary[s]
		if s == w/64 {
			sum &^= (1 << (w % 64)) - 1
		}
		if sum != 0 {
			return s*64 + uint64(bits.TrailingZeros64(sum)), true
		}
	}
	return 0, false
}
