package caption

// The Chinese reader: the text is cut into known words, then read with the grammar below.

import (
	"unicode"
	"unicode/utf8"

	"github.com/lumina-workbench/lumina/data/world"
)

// Chinese has no spaces: the text is cut into the longest known words; any other character stands
// alone and matches nothing.
type zhTokenKind uint8

const (
	zUnknown zhTokenKind = iota
	zQuant               // 一个 … 四个, 另一个
	zSize
	zColour
	zShape // a shape, or a generic noun (物体) with val −1
	zPlace // a cell name or a relation word; the grammar decides which
	zDe    // 的
	zZai   // 在
	zWeiyu // 位于
	zYou   // 有
	zShi   // 是
	zAnd   // 和 与 以及
	zComma // ， 、 ,
	zStop  // 。 ； ！ ？ ： and their ASCII forms
	zBgWord
	zBgColour
	zFlat
	zPhoto
	zExact  // 共有, 只有: the next 一个 is a count
	zDou    // 都, 均
	zAttrOf // 颜色, 尺寸, 大小
	zWei    // 为
	zFiller // words the grammar may skip in places: 画面, 中, 其中, 还有, 可以, 看到
)

type zhToken struct {
	kind zhTokenKind
	val  int
	text string
}

var (
	zhDict       map[string]zhToken
	zhMaxWordLen int
	zhCellWords  = map[string]world.Cell{"左上角": 0, "上方": 1, "右上角": 2, "左侧": 3, "中央": 4, "中间": 4, "正中": 4,
		"中心": 4, "右侧": 5, "左下角": 6, "下方": 7, "右下角": 8}
	zhRelationWords = map[string][]world.RelationKind{
		"左边": {world.LeftOf}, "左侧": {world.LeftOf}, "左面": {world.LeftOf},
		"右边": {world.RightOf}, "右侧": {world.RightOf}, "右面": {world.RightOf},
		"上方": {world.Above}, "上面": {world.Above}, "上边": {world.Above},
		"下方": {world.Below}, "下面": {world.Below}, "下边": {world.Below},
		"左上方": {world.LeftOf, world.Above}, "右上方": {world.RightOf, world.Above},
		"左下方": {world.LeftOf, world.Below}, "右下方": {world.RightOf, world.Below},
	}
)

func init() {
	d := map[string]zhToken{}
	add := func(kind zhTokenKind, val int, words ...string) {
		for _, w := range words {
			d[w] = zhToken{kind: kind, val: val, text: w}
		}
	}
	for i, w := range []string{"一个", "两个", "三个", "四个"} {
		add(zQuant, i+1, w)
	}
	add(zQuant, 2, "二个")
	add(zQuant, -1, "另一个") // indefinite, one more
	for i := 0; i < world.NumSizes; i++ {
		add(zSize, i, world.Size(i).Zh())
	}
	add(zSize, int(world.Medium), "中等")
	for i := 0; i < world.NumColours; i++ {
		add(zColour, i, world.Colour(i).Zh())
	}
	for i := 0; i < world.NumShapes; i++ {
		add(zShape, i, world.Shape(i).Zh())
	}
	add(zShape, int(world.Circle), "圆", "圆圈")
	add(zShape, int(world.Square), "方块", "方形")
	add(zShape, -1, "物体", "图形", "形状", "对象")
	for w := range zhCellWords {
		add(zPlace, 0, w)
	}
	for w := range zhRelationWords {
		add(zPlace, 0, w)
	}
	add(zDe, 0, "的")
	add(zZai, 0, "在")
	add(zWeiyu, 0, "位于")
	add(zYou, 0, "有")
	add(zShi, 0, "是")
	add(zAnd, 0, "和", "与", "以及")
	add(zComma, 0, "，", "、", ",")
	add(zStop, 0, "。", "；", "！", "？", "：", ".", ";", "!", "?", ":", "\n")
	add(zBgWord, 0, "背景", "底色")
	for i := 0; i < world.NumBackgrounds; i++ {
		add(zBgColour, i, world.Background(i).Zh())
	}
	add(zFlat, 0, "扁平", "插画", "矢量")
	add(zPhoto, 0, "照片", "写实", "摄影")
	add(zExact, 0, "共", "共有", "一共", "一共有", "总共", "总共有", "只有", "仅有", "唯一")
	add(zDou, 0, "都", "均")
	add(zAttrOf, 0, "颜色", "尺寸", "大小")
	add(zWei, 0, "为")
	add(zFiller, 0, "画面", "图像", "图片", "图中", "中", "其中", "还有", "可以", "看到", "放着")
	zhDict = d
	for w := range d {
		zhMaxWordLen = max(zhMaxWordLen, utf8.RuneCountInString(w))
	}
}

// zhSentences cuts Chinese text into sentences of tokens (longest match first).
func zhSentences(text string) [][]zhToken {
	rs := []rune(text)
	var out [][]zhToken
	var cur []zhToken
	for i := 0; i < len(rs); {
		if unicode.IsSpace(rs[i]) && rs[i] != '\n' {
			i++
			continue
		}
		tok, n := zhToken{kind: zUnknown, text: string(rs[i])}, 1
		for l := min(zhMaxWordLen, len(rs)-i); l >= 1; l-- {
			if t, ok := zhDict[string(rs[i:i+l])]; ok {
				tok, n = t, l
				break
			}
		}
		i += n
		if tok.kind == zStop {
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, tok)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

type zhParser struct{ t []zhToken }

func (p zhParser) at(i int) zhToken {
	if i >= 0 && i < len(p.t) {
		return p.t[i]
	}
	return zhToken{kind: zStop}
}

// place reads a cell: [位于|在] [画面|图像 …] [的] 左上角. prefix requires the 位于/在.
func (p zhParser) place(i int, prefix bool) (world.Cell, int, bool) {
	j := i
	if k := p.at(j).kind; k == zWeiyu || k == zZai {
		j++
	} else if prefix {
		return 0, i, false
	}
	for p.at(j).kind == zFiller && p.at(j).text != "其中" && p.at(j).text != "还有" || (j > i && p.at(j).kind == zDe && p.at(j+1).kind == zPlace) {
		j++
	}
	if p.at(j).kind != zPlace {
		return 0, i, false
	}
	c, ok := zhCellWords[p.at(j).text]
	if !ok {
		return 0, i, false
	}
	return c, j + 1, true
}

// np reads [共有] [quantifier] [place 的] [quantifier] (size|colour [的|、])* noun, and attribute clauses
// after it ("，颜色为红色，尺寸为大").
func (p zhParser) np(i int) (nounPhrase, *world.Cell, int, bool) {
	var np nounPhrase
	var cell *world.Cell
	j := i
	exact := false
	if p.at(j).kind == zExact {
		exact = true
		j++
	}
	quant := func() {
		if t := p.at(j); t.kind == zQuant {
			switch {
			case t.val == -1:
				np.det = detIndef
			case t.val == 1 && !exact:
				np.det = detIndef
			default:
				np.det, np.k = detNumeral, t.val
			}
			j++
		}
	}
	quant()
	// A place before the noun names where the object is: "左上角的红色圆形", "位于中央的一个…".
	{
		k := j
		if p.at(k).kind == zWeiyu || p.at(k).kind == zZai {
			k++
		}
		if p.at(k).kind == zFiller && p.at(k).text == "画面" {
			k++
			if p.at(k).kind == zDe {
				k++
			}
		}
		if t := p.at(k); t.kind == zPlace && p.at(k+1).kind == zDe {
			if c, ok := zhCellWords[t.text]; ok {
				cell, j = world.Ptr(c), k+2
				if np.det == detBare {
					quant()
				}
			}
		}
	}
	for {
		t := p.at(j)
		switch {
		case t.kind == zColour:
			if !mergeColour(&np.ref, world.Colour(t.val)) {
				return np, nil, i, false
			}
		case t.kind == zSize:
			if !mergeSize(&np.ref, world.Size(t.val)) {
				return np, nil, i, false
			}
		case t.kind == zShape:
			if t.val < 0 {
				np.generic = true
			} else {
				np.ref.Shape = world.Ptr(world.Shape(t.val))
			}
			j++
			// Attribute clauses: "，颜色为红色" "，尺寸为大".
			for {
				k := j
				if p.at(k).kind == zComma {
					k++
				}
				if p.at(k).kind != zAttrOf || (p.at(k+1).kind != zWei && p.at(k+1).kind != zShi) {
					break
				}
				v := p.at(k + 2)
				if v.kind == zColour && mergeColour(&np.ref, world.Colour(v.val)) ||
					v.kind == zSize && mergeSize(&np.ref, world.Size(v.val)) {
					j = k + 3
					continue
				}
				break
			}
			return np, cell, j, true
		default:
			return np, nil, i, false
		}
		j++
		if k := p.at(j).kind; k == zDe || k == zComma && (p.at(j+1).kind == zColour || p.at(j+1).kind == zSize) {
			j++
		}
	}
}

// rels reads relation words joined by 和 or 、: "左边", "左上方", "左边和上方".
func (p zhParser) rels(i int) ([]world.RelationKind, int, bool) {
	var kinds []world.RelationKind
	j := i
	for {
		t := p.at(j)
		ks, ok := zhRelationWords[t.text]
		if t.kind != zPlace || !ok {
			break
		}
		kinds = append(kinds, ks...)
		j++
		if (p.at(j).kind == zAnd || p.at(j).kind == zComma) && p.at(j+1).kind == zPlace {
			if _, ok := zhRelationWords[p.at(j+1).text]; ok {
				j++
				continue
			}
		}
		break
	}
	return kinds, j, len(kinds) > 0
}

// entry reads "一个位于左上角", "另一个在下方", "其中一个位于…", "两个都位于…".
func (p zhParser) entry(i int) (cellEntry, int, bool) {
	j := i
	if t := p.at(j); t.kind == zFiller && (t.text == "其中" || t.text == "还有") {
		j++
	}
	t := p.at(j)
	if t.kind != zQuant {
		return cellEntry{}, i, false
	}
	e := cellEntry{count: max(t.val, 1)}
	j++
	if p.at(j).kind == zDou {
		j++
	}
	c, j, ok := p.place(j, true)
	if !ok {
		return cellEntry{}, i, false
	}
	e.cell = c
	return e, j, true
}

func (p zhParser) clause(i int) ([]world.Fact, int) {
	if np, cell, j, ok := p.np(i); ok {
		ref := refAt(np, cell)
		// Inverted relation: "蓝色正方形的左边是红色圆形".
		if p.at(j).kind == zDe {
			if kinds, k, ok := p.rels(j + 1); ok && p.at(k).kind == zShi {
				if subj, sc, k2, ok := p.np(k + 1); ok {
					return relationFacts(refAt(subj, sc), ref, kinds), k2
				}
			}
		}
		// Relation: "红色圆形在蓝色正方形的左边".
		if k := p.at(j).kind; k == zZai || k == zWeiyu {
			if obj, oc, k, ok := p.np(j + 1); ok && p.at(k).kind == zDe {
				if kinds, k2, ok := p.rels(k + 1); ok {
					return relationFacts(ref, refAt(obj, oc), kinds), k2
				}
			}
		}
		var es []cellEntry
		if cell != nil {
			es = append(es, cellEntry{cell: *cell})
			np.ref.Cell = nil
		}
		// A place said of the phrase: "…位于左上角", "…，位于中央", "…都位于左上角".
		k := j
		if p.at(k).kind == zComma {
			k++
		}
		all := false
		if p.at(k).kind == zDou {
			all, k = true, k+1
		}
		if c, k2, ok := p.place(k, true); ok && cell == nil {
			e := cellEntry{cell: c}
			if all {
				e.count = -1
			}
			es, j = append(es, e), k2
		}
		// Positions of a counted group: "，一个位于左上角，另一个位于下方".
		for {
			k := j
			if p.at(k).kind == zComma || p.at(k).kind == zAnd {
				k++
			}
			e, k2, ok := p.entry(k)
			if !ok {
				break
			}
			es, j = append(es, e), k2
		}
		return phraseFacts(np, es), j
	}
	// A place first: "左上角有一个红色圆形", "在画面中央可以看到一个…".
	if c, j, ok := p.place(i, false); ok {
		k := j
		for t := p.at(k); t.kind == zYou || t.kind == zShi || t.kind == zFiller || t.kind == zComma; t = p.at(k) {
			k++
		}
		if np, cell, k2, ok := p.np(k); ok && cell == nil {
			return phraseFacts(np, []cellEntry{{cell: c}}), k2
		}
		return nil, j
	}
	return nil, i + 1
}

func readChinese(text string) []world.Fact {
	var fs []world.Fact
	for _, sent := range zhSentences(text) {
		p := zhParser{t: sent}
		fs = append(fs, clauses(len(sent), p.clause)...)
		words := make([]string, len(sent))
		for i, t := range sent {
			words[i] = t.text
		}
		bg := func(w string) (world.Background, bool) {
			for i := 0; i < world.NumBackgrounds; i++ {
				if world.Background(i).Zh() == w {
					return world.Background(i), true
				}
			}
			return 0, false
		}
		isBg := func(w string) bool { return w == "背景" || w == "底色" }
		fs = append(fs, styleAndBackground(words, bg, isBg,
			map[string]bool{"扁平": true, "插画": true, "矢量": true},
			map[string]bool{"照片": true, "写实": true, "摄影": true})...)
	}
	return fs
}
