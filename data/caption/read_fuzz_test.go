package caption

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/lumina-workbench/lumina/data/world"
)

// FuzzRead reads arbitrary text in both languages. Read fails exactly on text that is not UTF-8;
// otherwise it is deterministic, returns each fact once, only facts `lumina eval --images` accepts in a
// sidecar (world.ValidateFacts; the sampler writes Read's facts there), and skips a system prompt.
func FuzzRead(f *testing.F) {
	for i, c := range Corpus(40, 2) {
		f.Add(c, i%2 == 1)
	}
	for _, s := range []string{"two red circles to the left of a blue square", "左边有两个红色圆形。", "a 红色 circle \xff",
		"one in the top left and the other at the bottom", "都位于左上角", "<Prompt Start><Prompt Start>"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, text string, zh bool) {
		lang := En
		if zh {
			lang = Zh
		}
		fs, err := Read(text, lang)
		if (err != nil) != !utf8.ValidString(text) {
			t.Fatalf("Read(%q): error %v, but valid UTF-8 is %v", text, err, utf8.ValidString(text))
		}
		if err != nil {
			return
		}
		if err := world.ValidateFacts(fs); err != nil {
			t.Fatalf("Read(%q): %v", text, err)
		}
		keys := make([]string, len(fs))
		for i, f := range fs {
			keys[i] = factKey(f)
		}
		if len(slices.Compact(slices.Sorted(slices.Values(keys)))) != len(keys) {
			t.Fatalf("Read(%q) repeats a fact: %v", text, keys)
		}
		for _, tmpl := range []Template{TemplateA, TemplateC} {
			again, err := Read(WithSystemPrompt(tmpl, text), lang)
			if err != nil || !slices.Equal(factKeys(fs), factKeys(again)) {
				t.Fatalf("Read(%q) = %v, behind system prompt %v: %v (%v)", text, factKeys(fs), tmpl, factKeys(again), err)
			}
		}
	})
}

// sceneBytes is the byte form FuzzCaptionRoundTrip reads scenes from: background, domain, the
// object count, then per object shape, colour, size and the centre as two 16-bit fractions of the
// side. 65535 = 3·21845, so the fuzzer reaches the cell borders exactly.
func sceneBytes(s world.Scene) []byte {
	b := []byte{byte(s.Background), byte(s.Domain), byte(len(s.Objects) - 1)}
	for _, o := range s.Objects {
		b = append(b, byte(o.Shape), byte(o.Colour), byte(o.Size))
		b = binary.BigEndian.AppendUint16(b, uint16(math.Round(o.X*65535)))
		b = binary.BigEndian.AppendUint16(b, uint16(math.Round(o.Y*65535)))
	}
	return b
}

// sceneFrom reads sceneBytes; any bytes give a valid scene (each field is taken modulo its range, a
// short input is padded with zeros).
func sceneFrom(b []byte) world.Scene {
	at := func(i int) byte {
		if i < len(b) {
			return b[i]
		}
		return 0
	}
	frac := func(i int) float64 { return float64(uint16(at(i))<<8|uint16(at(i+1))) / 65535 }
	s := world.Scene{Background: world.Background(int(at(0)) % world.NumBackgrounds), Domain: world.Domain(int(at(1)) % world.NumDomains)}
	for k := range 1 + int(at(2))%world.MaxObjects {
		i := 3 + 7*k
		s.Objects = append(s.Objects, world.Object{Shape: world.Shape(int(at(i)) % world.NumShapes),
			Colour: world.Colour(int(at(i+1)) % world.NumColours), Size: world.Size(int(at(i+2)) % world.NumSizes),
			X: frac(i + 3), Y: frac(i + 5)})
	}
	return s
}

// FuzzCaptionRoundTrip: for any scene, every granularity and perspective the captioner writes, in
// either language and any wording, Read finds exactly the facts the caption states, and each holds.
// form picks the granularity or perspective, the language and a system prompt; seed the wording.
func FuzzCaptionRoundTrip(f *testing.F) {
	rng := rand.New(rand.NewPCG(9, 9))
	for i := range 40 {
		s := hardScene(rng)
		if i%2 == 1 {
			s = corpusScene(rng)
		}
		f.Add(sceneBytes(s), uint8(i), rng.Uint64())
	}
	f.Fuzz(func(t *testing.T, sb []byte, form uint8, seed uint64) {
		s := sceneFrom(sb)
		if err := s.Validate(); err != nil {
			t.Fatalf("scene %+v: %v", s, err)
		}
		lang := Lang(form % 2)
		kind := int(form/2) % (NumGranularities + NumPerspectives)
		wording := rand.New(rand.NewPCG(seed, 0))
		var text string
		var want []world.Fact
		if kind < NumGranularities {
			text, want = Write(s, Granularity(kind), lang, wording), Facts(s, Granularity(kind))
		} else {
			p := Perspective(kind - NumGranularities)
			text, want = WritePerspective(s, p, lang, wording), perspectiveFacts(s, p)
		}
		if form >= 128 {
			text = WithSystemPrompt(TemplateFor(s.Domain), text)
		}
		read, err := Read(text, lang)
		if err != nil {
			t.Fatal(err)
		}
		if err := compareReading(s, read, want); err != nil {
			t.Fatalf("scene %+v: %v\ncaption: %s", s, err, text)
		}
	})
}
