package caption

// The Chinese realiser: the same plans as the English one, in natural Chinese (量词 个, 位于左上角,
// 在…的左边, 黑色背景上…). Only the wording is chosen by the rng; the facts come from the plan.

import (
	"math/rand/v2"
	"strings"

	"github.com/lumina-workbench/lumina/data/world"
)

var zhNumerals = [...]string{"零", "一", "两", "三", "四", "五", "六", "七", "八", "九"}

func zhNumber(n int) string {
	if n >= 0 && n < len(zhNumerals) {
		return zhNumerals[n]
	}
	return "多"
}

func zhShape(sh world.Shape, rng *rand.Rand) string {
	switch {
	case sh == world.Square && rng.IntN(5) == 0:
		return "方块"
	case sh == world.Circle && rng.IntN(6) == 0:
		return "圆"
	}
	return sh.Zh()
}

// zhNoun is "小的红色圆形" for a reference's attributes (no quantifier, no cell).
func zhNoun(r world.ObjectRef, rng *rand.Rand) string {
	shape := pick(rng, "物体", "图形")
	if r.Shape != nil {
		shape = zhShape(*r.Shape, rng)
	}
	colour := ""
	if r.Colour != nil {
		colour = r.Colour.Zh()
	}
	if r.Size == nil {
		if colour != "" && rng.IntN(3) == 0 {
			return colour + "的" + shape
		}
		return colour + shape
	}
	size := r.Size.Zh()
	if colour == "" {
		return size + "的" + shape
	}
	if *r.Size == world.Medium {
		return size + "的" + colour + shape
	}
	switch rng.IntN(3) {
	case 0:
		return colour + "的" + size + shape
	case 1:
		return colour + size + shape
	}
	return size + "的" + colour + shape
}

// zhIndef is "一个小的红色圆形" or "两个小的红色圆形".
func zhIndef(r world.ObjectRef, k int, rng *rand.Rand) string {
	return zhNumber(k) + "个" + zhNoun(r, rng)
}

// zhPlace is a cell as a place: "左上角", "画面左上角", "画面的左上角".
func zhPlace(c world.Cell, rng *rand.Rand) string {
	name := c.Zh()
	if c == 4 {
		name = pick(rng, "中央", "中央", "中间", "正中")
	}
	return pick(rng, "", "画面", "画面的") + name
}

// zhRef is a definite reference: "红色圆形" or "左上角的小的红色圆形".
func zhRef(r world.ObjectRef, rng *rand.Rand) string {
	noun := zhNoun(r, rng)
	if r.Cell == nil {
		return noun
	}
	name := r.Cell.Zh()
	if *r.Cell == 4 {
		name = pick(rng, "中央", "中间")
	}
	return pick(rng, "", "画面") + name + "的" + noun
}

func zhRelWord(k world.RelationKind, rng *rand.Rand) string {
	switch k {
	case world.LeftOf:
		return pick(rng, "左边", "左侧", "左面")
	case world.RightOf:
		return pick(rng, "右边", "右侧", "右面")
	case world.Above:
		return pick(rng, "上方", "上面", "上边")
	}
	return pick(rng, "下方", "下面", "下边")
}

// zhRelWords is one relation word, or two joined; a horizontal and a vertical one may also merge
// into a diagonal ("左上方").
func zhRelWords(kinds []world.RelationKind, rng *rand.Rand) string {
	if len(kinds) == 2 && rng.IntN(2) == 0 {
		h, v := kinds[0], kinds[1]
		if h == world.Above || h == world.Below {
			h, v = v, h
		}
		hz := map[world.RelationKind]string{world.LeftOf: "左", world.RightOf: "右"}[h]
		vz := map[world.RelationKind]string{world.Above: "上方", world.Below: "下方"}[v]
		return hz + vz
	}
	words := make([]string, len(kinds))
	for i, k := range kinds {
		words[i] = zhRelWord(k, rng)
	}
	return strings.Join(words, pick(rng, "和", "、"))
}

func zhRelSentence(r relation, rng *rand.Rand) string {
	subj, obj, kinds := orient(r, rng)
	rel := zhRelWords(kinds, rng)
	switch rng.IntN(3) {
	case 0:
		return zhRef(obj, rng) + "的" + rel + "是" + zhRef(subj, rng) + "。"
	case 1:
		return zhRef(subj, rng) + "位于" + zhRef(obj, rng) + "的" + rel + "。"
	}
	return zhRef(subj, rng) + "在" + zhRef(obj, rng) + "的" + rel + "。"
}

// zhStyle is the render style and its measure word: "幅" for a picture, "张" for a photo.
func zhStyle(d world.Domain, rng *rand.Rand) (style, measure string) {
	if d == world.Photo {
		return pick(rng, "照片", "写实照片", "摄影照片"), "张"
	}
	return pick(rng, "扁平插画", "扁平风格的插画", "矢量扁平插画"), "幅"
}

func zhCount(n int, rng *rand.Rand) string {
	if n == 1 {
		return pick(rng, "只有一个物体", "画面中仅有一个图形", "只有一个图形")
	}
	num := zhNumber(n)
	return pick(rng, "共有"+num+"个物体", "画面中共有"+num+"个图形", "一共有"+num+"个形状")
}

// zhEntries places a group of k ≥ 2: "都位于左上角" or "，一个位于左上角，另一个位于下方".
func zhEntries(g group, rng *rand.Rand) string {
	if len(g.cells) == 1 {
		return pick(rng, "都", "均", "都") + pick(rng, "位于", "在") + zhPlace(g.cells[0].cell, rng)
	}
	cells := shuffled(rng, g.cells)
	parts := make([]string, len(cells))
	left := g.k
	for i, cc := range cells {
		var q string
		switch {
		case cc.m > 1:
			q = zhNumber(cc.m) + "个"
		case i == 0:
			q = pick(rng, "一个", "其中一个")
		case left == 1 && g.k == 2:
			q = "另一个"
		default:
			q = pick(rng, "一个", "还有一个", "另一个")
		}
		left -= cc.m
		parts[i] = q + pick(rng, "位于", "在") + zhPlace(cc.cell, rng)
	}
	return "，" + strings.Join(parts, "，")
}

// zhGroupPhrase is a group as a phrase, with its positions when the plan has them.
func zhGroupPhrase(g group, withPos bool, rng *rand.Rand) string {
	np := zhIndef(g.ref(), g.k, rng)
	if !withPos {
		return np
	}
	if g.k == 1 {
		if rng.IntN(2) == 0 {
			return zhPlace(g.cells[0].cell, rng) + "有" + np
		}
		return np + pick(rng, "位于", "在") + zhPlace(g.cells[0].cell, rng)
	}
	if len(g.cells) == 1 && rng.IntN(2) == 0 {
		return zhPlace(g.cells[0].cell, rng) + "有" + np
	}
	return np + zhEntries(g, rng)
}

func zhGroupSentence(g group, rng *rand.Rand) string {
	if g.k == 1 && rng.IntN(3) == 0 {
		return "在" + zhPlace(g.cells[0].cell, rng) + "可以看到" + zhIndef(g.ref(), 1, rng) + "。"
	}
	return zhGroupPhrase(g, true, rng) + "。"
}

func zhJoin(parts []string, rng *rand.Rand) string {
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], "、") + pick(rng, "和", "以及", "与") + parts[len(parts)-1]
}

func realiseZh(p plan, rng *rand.Rand) string {
	groups := shuffled(rng, p.groups)
	bg := p.bg.Zh()
	switch p.form {
	case formTag:
		var tags []string
		for _, g := range groups {
			if g.k == 1 {
				tags = append(tags, zhNoun(g.ref(), rng))
			} else {
				tags = append(tags, zhIndef(g.ref(), g.k, rng))
			}
		}
		style, _ := zhStyle(p.domain, rng)
		tags = append(tags, bg+"背景", style)
		return strings.Join(shuffled(rng, tags), pick(rng, "，", "、"))
	case formBrief:
		var body string
		if len(p.rels) > 0 {
			body = zhRelSentence(p.rels[0], rng)
		} else {
			parts := make([]string, len(groups))
			for i, g := range groups {
				parts[i] = zhIndef(g.ref(), g.k, rng)
			}
			body = pick(rng, "", "画面中有", "图中是") + zhJoin(parts, rng) + "。"
		}
		if p.domain == world.Photo {
			return pick(rng, "一张照片。", "这是一张照片。") + body
		}
		return body
	case formShort:
		parts := make([]string, len(groups))
		for i, g := range groups {
			parts[i] = zhIndef(g.ref(), g.k, rng)
		}
		list := zhJoin(parts, rng)
		if p.domain == world.Photo {
			return pick(rng, "一张照片。", "这是一张照片。") + list + "。"
		}
		switch rng.IntN(3) {
		case 0:
			return list + "。"
		case 1:
			return "画面中有" + list + "。"
		}
		return "图中是" + list
	case formMedium:
		parts := make([]string, len(groups))
		for i, g := range groups {
			parts[i] = zhGroupPhrase(g, true, rng)
		}
		list := strings.Join(parts, "；")
		switch rng.IntN(3) {
		case 0:
			return bg + "背景上，" + list + "。"
		case 1:
			return list + "。背景是" + bg + "。"
		}
		return "在" + bg + "背景上：" + list + "。"
	case formStyle:
		style, measure := zhStyle(p.domain, rng)
		if rng.IntN(2) == 0 {
			return "这是一" + measure + style + "，背景为" + bg + "，" + zhCount(p.n, rng) + "。"
		}
		return "风格：" + style + "；" + bg + "背景；" + zhCount(p.n, rng) + "。"
	case formMain:
		o := p.main
		r := world.ObjectRef{Colour: world.Ptr(o.Colour), Shape: world.Ptr(o.Shape), Size: world.Ptr(o.Size)}
		if rng.IntN(2) == 0 {
			return "画面的主体是" + zhIndef(r, 1, rng) + "，位于" + zhPlace(o.Cell(), rng) + "。"
		}
		return "主要物体是位于" + pick(rng, "", "画面") + o.Cell().Zh() + "的" + zhIndef(r, 1, rng) + "。"
	case formAll:
		parts := make([]string, len(groups))
		for i, g := range groups {
			parts[i] = zhIndef(g.ref(), g.k, rng)
		}
		if rng.IntN(2) == 0 {
			return "画面中" + zhCount(p.n, rng) + "：" + zhJoin(parts, rng) + "。"
		}
		return zhJoin(parts, rng) + "。" + zhCount(p.n, rng) + "。"
	case formAttributes:
		parts := make([]string, len(groups))
		for i, g := range groups {
			attrs := []string{"颜色为" + g.colour.Zh(), pick(rng, "尺寸为", "大小为") + g.size.Zh()}
			parts[i] = zhNumber(g.k) + "个" + zhShape(g.shape, rng) + "，" + strings.Join(shuffled(rng, attrs), "，")
		}
		return pick(rng, "各物体的属性：", "属性如下：") + strings.Join(parts, "；") + "。"
	case formSpatial:
		var ss []string
		for _, g := range groups {
			ss = append(ss, zhGroupSentence(g, rng))
		}
		for _, r := range shuffled(rng, p.rels) {
			ss = append(ss, zhRelSentence(r, rng))
		}
		return strings.Join(ss, "")
	}
	// Detailed.
	style, measure := zhStyle(p.domain, rng)
	count := zhCount(p.n, rng)
	var intro string
	bgSaid := true
	switch rng.IntN(3) {
	case 0:
		intro = "这是一" + measure + style + "，背景为" + bg + "，" + count + "。"
	case 1:
		intro = "在" + bg + "背景上，这" + measure + style + "里" + strings.TrimPrefix(count, "画面中") + "。"
	default:
		intro = "画面是一" + measure + style + "，" + count + "。"
		bgSaid = false
	}
	ss := []string{intro}
	for _, g := range groups {
		ss = append(ss, zhGroupSentence(g, rng))
	}
	for _, r := range shuffled(rng, p.rels) {
		ss = append(ss, zhRelSentence(r, rng))
	}
	if !bgSaid {
		bgs := pick(rng, "背景是"+bg+"的。", "背景为"+bg+"。", "整体为"+bg+"背景。")
		at := 1 + rng.IntN(len(ss))
		ss = append(ss[:at], append([]string{bgs}, ss[at:]...)...)
	}
	return strings.Join(ss, "")
}
