package stats

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// clock is a settable time source for sample stamps.
type clock struct{ t time.Time }

func (c *clock) now() time.Time              { return c.t }
func (c *clock) tick(d time.Duration) string { c.t = c.t.Add(d); return c.t.Format(TimeFormat) }

func newTest() (*Registry, *clock) {
	c := &clock{t: time.Date(2026, 11, 27, 1, 2, 3, 456789000, time.UTC)}
	return New(c.now), c
}

// js renders v as compact JSON, for comparing with Kea's answers.
func js(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLazySamples(t *testing.T) {
	r, c := newTest()
	ctr := r.Counter("pkt4-received")
	if _, ok := r.Get("pkt4-received"); ok {
		t.Fatal("a statistic never changed exists")
	}
	if n := r.Names(); len(n) != 0 {
		t.Fatalf("names %v before any change", n)
	}
	t1 := c.tick(time.Second)
	ctr.Add(1)
	ctr.Add(2)
	s, ok := r.Get("pkt4-received")
	if got, want := js(t, s), `[[3,"`+t1+`"]]`; !ok || got != want {
		t.Fatalf("after two adds: %s, want %s", got, want)
	}
	t2 := c.tick(time.Second)
	ctr.Add(2)
	r.Sample()
	c.tick(time.Second)
	r.Sample() // no change: no sample
	s, _ = r.Get("pkt4-received")
	if got, want := js(t, s), `[[5,"`+t2+`"],[3,"`+t1+`"]]`; got != want {
		t.Fatalf("samples %s, want %s", got, want)
	}
	if ctr.Value() != 5 || r.Counter("pkt4-received") != ctr {
		t.Error("the handle is not the statistic's")
	}
	// Add by name reaches the same counter.
	r.Add("pkt4-received", -1)
	if ctr.Value() != 4 {
		t.Errorf("value %d after Add by name, want 4", ctr.Value())
	}
}

func TestSampleLimits(t *testing.T) {
	r, c := newTest()
	var stamps []string
	for i := range 25 {
		stamps = append(stamps, c.tick(time.Second))
		r.Set("x", int64(i))
	}
	s, _ := r.Get("x")
	if len(s) != DefaultSampleCount || s[0][0] != int64(24) || s[0][1] != stamps[24] || s[19][0] != int64(5) {
		t.Fatalf("default limit kept %d samples: newest %v, oldest %v", len(s), s[0], s[len(s)-1])
	}
	// Every Set is a sample, even of the same value, as in Kea.
	r.Set("x", 24)
	if s, _ := r.Get("x"); s[0][0] != int64(24) || s[1][0] != int64(24) {
		t.Errorf("repeated Set left %v", s[:2])
	}

	if !r.SetMaxSampleCount("x", 3) {
		t.Fatal("SetMaxSampleCount: no statistic")
	}
	if s, _ := r.Get("x"); len(s) != 3 {
		t.Errorf("count limit 3 kept %d", len(s))
	}

	// An age limit keeps the samples within the age of the newest one.
	if !r.SetMaxSampleAge("x", 2*time.Second) {
		t.Fatal("SetMaxSampleAge: no statistic")
	}
	for i := range 10 {
		c.tick(time.Second)
		r.Set("x", int64(100+i))
	}
	s, _ = r.Get("x")
	if got := js(t, s); len(s) != 3 || s[0][0] != int64(109) || s[2][0] != int64(107) {
		t.Errorf("age limit 2s at 1s steps kept %s, want 109, 108, 107", got)
	}
	if r.SetMaxSampleAge("nope", time.Second) || r.SetMaxSampleCount("nope", 1) {
		t.Error("limits set on a missing statistic")
	}
}

func TestLimitsAll(t *testing.T) {
	r, c := newTest()
	for i := range 5 {
		c.tick(time.Second)
		r.Set("a", int64(i))
		r.Set("b", int64(i))
	}
	r.SetMaxSampleCountAll(2)
	for _, name := range []string{"a", "b"} {
		if s, _ := r.Get(name); len(s) != 2 {
			t.Errorf("%s kept %d samples, want 2", name, len(s))
		}
	}
	// New statistics get the new default.
	for i := range 5 {
		r.Set("c", int64(i))
	}
	if s, _ := r.Get("c"); len(s) != 2 {
		t.Errorf("new statistic kept %d samples, want the new default 2", len(s))
	}
	// An age for all switches every statistic, and new ones, to the age.
	r.SetMaxSampleAgeAll(0)
	for i := range 5 {
		r.Set("d", int64(i)) // same instant: all within age 0
	}
	c.tick(time.Second)
	r.Set("a", 9)
	if s, _ := r.Get("a"); len(s) != 1 {
		t.Errorf("age 0 kept %d samples of a", len(s))
	}
	if s, _ := r.Get("d"); len(s) != 5 {
		t.Errorf("age 0 kept %d samples stamped at one instant, want 5", len(s))
	}
}

func TestConfigure(t *testing.T) {
	u := func(n uint32) *uint32 { return &n }
	d := func(d time.Duration) *time.Duration { return &d }
	tests := []struct {
		name     string
		count    *uint32
		age      *time.Duration
		wantKept int // of 6 samples one second apart
	}{
		{"defaults", u(20), d(0), 6},
		{"count", u(3), nil, 3},
		{"count wins over age", u(4), d(time.Second), 4},
		{"age alone", nil, d(2 * time.Second), 3},
		{"count 0 means age", u(0), d(time.Second), 2},
		{"count 0 alone keeps existing limits", u(0), nil, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, c := newTest()
			for i := range 6 {
				c.tick(time.Second)
				r.Set("x", int64(i))
			}
			r.Configure(tt.count, tt.age)
			if s, _ := r.Get("x"); len(s) != tt.wantKept {
				t.Errorf("kept %d samples, want %d", len(s), tt.wantKept)
			}
		})
	}
}

func TestResetRemove(t *testing.T) {
	r, c := newTest()
	ctr := r.Counter("pkt4-sent")
	ctr.Add(7)
	r.SetFloat("f", 1.5)
	r.SetDuration("d", 90*time.Minute+1500*time.Microsecond)
	r.SetString("s", "up")
	t1 := c.tick(time.Second)
	r.ResetAll()
	if got, want := js(t, r.All()), `{"d":[["00:00:00.000000","`+t1+`"]],"f":[[0,"`+t1+`"]],"pkt4-sent":[[0,"`+t1+`"]],"s":[["","`+t1+`"]]}`; got != want {
		t.Errorf("after reset-all:\n got %s\nwant %s", got, want)
	}
	if ctr.Value() != 0 {
		t.Errorf("counter %d after reset", ctr.Value())
	}

	if !r.Remove("pkt4-sent") || r.Remove("pkt4-sent") {
		t.Fatal("Remove did not report existence")
	}
	if _, ok := r.Get("pkt4-sent"); ok {
		t.Fatal("removed statistic still there")
	}
	// Kea recreates a removed statistic on its next change.
	t2 := c.tick(time.Second)
	ctr.Add(2)
	if s, ok := r.Get("pkt4-sent"); !ok || js(t, s) != `[[2,"`+t2+`"]]` {
		t.Errorf("after remove and add: %v, %v", s, ok)
	}
	if r.Reset("nope") || r.Remove("nope") {
		t.Error("missing statistic reset or removed")
	}

	r.Set(Subnet(1, "assigned-addresses"), 3)
	r.Set(Pool(1, 0, "assigned-addresses"), 3)
	r.Set(Subnet(10, "assigned-addresses"), 3)
	if n := r.RemovePrefix("subnet[1]."); n != 2 {
		t.Errorf("RemovePrefix removed %d, want 2", n)
	}
	r.RemoveAll()
	if n := r.Names(); len(n) != 0 {
		t.Errorf("after remove-all: %v", n)
	}
}

func TestValueKinds(t *testing.T) {
	r, c := newTest()
	t1 := c.tick(0)
	r.SetFloat("f", 0.25)
	r.SetDuration("d", 26*time.Hour+3*time.Second+7*time.Microsecond)
	r.SetString("s", "a\"b")
	r.Set("i", -5)
	want := `{"d":[["26:00:03.000007","` + t1 + `"]],"f":[[0.25,"` + t1 + `"]],"i":[[-5,"` + t1 + `"]],"s":[["a\"b","` + t1 + `"]]}`
	if got := js(t, r.All()); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// A statistic changing type starts a new history, as a new statistic.
	r.Set("f", 1)
	if s, _ := r.Get("f"); js(t, s) != `[[1,"`+t1+`"]]` {
		t.Errorf("float turned integer: %v", s)
	}
}

func TestNames(t *testing.T) {
	if got := Subnet(7, "total-addresses"); got != "subnet[7].total-addresses" {
		t.Errorf("Subnet = %s", got)
	}
	if got := Pool(7, 2, "assigned-addresses"); got != "subnet[7].pool[2].assigned-addresses" {
		t.Errorf("Pool = %s", got)
	}
	r, _ := newTest()
	r.Set("reclaimed-leases", 42)
	r.Set("declined-addresses", 3)
	r.Start()
	want := append(StartupNames(), "declined-addresses", "cumulative-assigned-addresses", "reclaimed-declined-addresses", "reclaimed-leases")
	slices.Sort(want)
	if got := r.Names(); !slices.Equal(got, want) {
		t.Errorf("after Start:\n got %v\nwant %v", got, want)
	}
	if s, _ := r.Get("reclaimed-leases"); s[0][0] != int64(42) {
		t.Errorf("Start reset reclaimed-leases to %v; Kea never resets it", s[0][0])
	}
	if s, _ := r.Get("declined-addresses"); s[0][0] != int64(0) {
		t.Errorf("Start left declined-addresses at %v; Kea recounts it from 0", s[0][0])
	}
	if len(StartupNames()) != 23 || len(SubnetNames()) != 8 || len(PoolNames()) != 6 {
		t.Error("name lists changed length")
	}
}

func TestCommands(t *testing.T) {
	r, c := newTest()
	h := r.Handlers()
	ts := c.tick(0)
	r.Set("pkt4-received", 5)
	r.Set("pkt4-sent", 1)
	tests := []struct {
		command, args, want string
	}{
		{"statistic-get", `{"name":"pkt4-received"}`, `{"result":0,"arguments":{"pkt4-received":[[5,"` + ts + `"]]}}`},
		{"statistic-get", `{"name":"nope"}`, `{"result":0,"arguments":{}}`},
		{"statistic-get", ``, `{"result":1,"text":"Missing mandatory 'name' parameter."}`},
		{"statistic-get", `{"name":5}`, `{"result":1,"text":"'name' parameter expected to be a string."}`},
		{"statistic-get", `[1]`, `{"result":1,"text":"Missing mandatory 'name' parameter."}`},
		{"statistic-get-all", ``, `{"result":0,"arguments":{"pkt4-received":[[5,"` + ts + `"]],"pkt4-sent":[[1,"` + ts + `"]]}}`},
		{"statistic-sample-count-set", `{"name":"pkt4-received","max-samples":2}`, `{"result":0,"text":"Statistic 'pkt4-received' count limit is set."}`},
		{"statistic-sample-count-set", `{"name":"nope","max-samples":2}`, `{"result":1,"text":"No 'nope' statistic found"}`},
		{"statistic-sample-count-set", `{"name":"pkt4-received"}`, `{"result":1,"text":"Missing mandatory 'max-samples' parameter."}`},
		{"statistic-sample-count-set", `{"name":"pkt4-received","max-samples":"2"}`, `{"result":1,"text":"'max-samples' parameter expected to be an integer."}`},
		{"statistic-sample-count-set-all", `{"max-samples":0}`, `{"result":1,"text":"'max-samples' parameter must not be zero"}`},
		{"statistic-sample-count-set-all", `{"max-samples":10}`, `{"result":0,"text":"All statistics count limit are set."}`},
		{"statistic-sample-age-set", `{"name":"pkt4-sent","duration":60}`, `{"result":0,"text":"Statistic 'pkt4-sent' duration limit is set."}`},
		{"statistic-sample-age-set", `{"name":"pkt4-sent"}`, `{"result":1,"text":"Missing mandatory 'duration' parameter."}`},
		{"statistic-sample-age-set-all", `{"duration":60}`, `{"result":0,"text":"All statistics duration limit are set."}`},
		{"statistic-reset", `{"name":"pkt4-received"}`, `{"result":0,"text":"Statistic 'pkt4-received' reset."}`},
		{"statistic-get", `{"name":"pkt4-received"}`, `{"result":0,"arguments":{"pkt4-received":[[0,"` + ts + `"]]}}`},
		{"statistic-reset", `{"name":"nope"}`, `{"result":1,"text":"No 'nope' statistic found"}`},
		{"statistic-reset-all", ``, `{"result":0,"text":"All statistics reset to neutral values."}`},
		{"statistic-remove", `{"name":"pkt4-received"}`, `{"result":0,"text":"Statistic 'pkt4-received' removed."}`},
		{"statistic-remove", `{"name":"pkt4-received"}`, `{"result":1,"text":"No 'pkt4-received' statistic found"}`},
		{"statistic-remove-all", ``, `{"result":0,"text":"Warning: statistic-remove-all command is deprecated. All statistics removed."}`},
		{"statistic-get-all", ``, `{"result":0,"arguments":{}}`},
	}
	for i, tt := range tests {
		handler, ok := h[tt.command]
		if !ok {
			t.Fatalf("no handler for %s", tt.command)
		}
		var args json.RawMessage
		if tt.args != "" {
			args = json.RawMessage(tt.args)
		}
		if got := js(t, handler(context.Background(), args)); got != tt.want {
			t.Errorf("%d: %s %s:\n got %s\nwant %s", i, tt.command, tt.args, got, tt.want)
		}
	}
	if len(h) != 10 {
		t.Errorf("%d commands, want Kea's 10 statistic-* commands", len(h))
	}
}

// TestConcurrent runs counters against readers, sampling, resets of other
// statistics and removals; run it with -race. No count may be lost.
func TestConcurrent(t *testing.T) {
	r := New(nil)
	const workers, adds = 8, 2000
	ctx, cancel := context.WithCancel(context.Background())
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for ctx.Err() == nil {
			r.All()
			r.Sample()
			r.Get("shared")
			r.Reset("other")
			r.Remove("gone")
		}
	}()
	readers.Add(1)
	go func() { defer readers.Done(); r.Run(ctx, time.Millisecond) }()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			shared, own, gone := r.Counter("shared"), r.Counter(fmt.Sprintf("w%d", w)), r.Counter("gone")
			for range adds {
				shared.Add(1)
				own.Add(1)
				gone.Add(1)
				r.Add("other", 1)
			}
		}()
	}
	wg.Wait()
	cancel()
	readers.Wait()
	if v := r.Counter("shared").Value(); v != workers*adds {
		t.Errorf("shared = %d, want %d", v, workers*adds)
	}
	s, ok := r.Get("shared")
	if !ok || s[0][0] != int64(workers*adds) {
		t.Errorf("newest sample %v, want %d", s, workers*adds)
	}
	for w := range workers {
		if s, _ := r.Get(fmt.Sprintf("w%d", w)); s[0][0] != int64(adds) {
			t.Errorf("w%d = %v", w, s[0][0])
		}
	}
}

func TestAddDoesNotAllocate(t *testing.T) {
	r := New(nil)
	c := r.Counter("pkt4-received")
	c.Add(1)
	if n := testing.AllocsPerRun(1000, func() { c.Add(1) }); n != 0 {
		t.Errorf("Counter.Add allocates %v times", n)
	}
}

func BenchmarkCounterAdd(b *testing.B) {
	r := New(nil)
	c := r.Counter("pkt4-received")
	c.Add(1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Add(1)
		}
	})
}

func BenchmarkRegistryAddByName(b *testing.B) {
	r := New(nil)
	r.Add("subnet[1].assigned-addresses", 1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Add("subnet[1].assigned-addresses", 1)
		}
	})
}
