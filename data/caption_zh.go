package data

// The Chinese realiser: the same plans as the English one, in natural Chinese (量词 个, 位于左上角,
// 在…的左边, 黑色背景上…). Only the wording is chosen by the rng; the facts come from the plan.

import (
	"math/rand/v2"
	"strings"
)

var capZhNumbers = [...]string{"零", "一", "两", "三", "四", "五", "六", "七", "八", "九"}

func capZhNumber(n int) string {
	if n >= 0 && n < len(capZhNumbers) {
		return capZhNumbers[n]
	}
	return "多"
}

func capZhShape(sh Shape, rng *rand.Rand) string {
	switch {
	case sh == Square && rng.IntN(5) == 0:
		return "方块"
	case sh == Circle && rng.IntN(6) == 0:
		return "圆"
	}
	return sh.Zh()
}

// capZhNoun is "小的红色圆形" for a reference's attributes (no quantifier, no cell).
func capZhNoun(r ObjectRef, rng *rand.Rand) string {
	shape := capPick(rng, "物体", "图形")
	if r.Shape != nil {
		shape = capZhShape(*r.Shape, rng)
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
	if *r.Size == Medium {
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

// capZhIndef is "一个小的红色圆形" or "两个小的红色圆形".
func capZhIndef(r ObjectRef, k int, rng *rand.Rand) string {
	return capZhNumber(k) + "个" + capZhNoun(r, rng)
}

// capZhPlace is a cell as a place: "左上角", "画面左上角", "画面的左上角".
func capZhPlace(c Cell, rng *rand.Rand) string {
	name := c.Zh()
	if c == 4 {
		name = capPick(rng, "中央", "中央", "中间", "正中")
	}
	return capPick(rng, "", "画面", "画面的") + name
}

// capZhRef is a definite reference: "红色圆形" or "左上角的小的红色圆形".
func capZhRef(r ObjectRef, rng *rand.Rand) string {
	noun := capZhNoun(r, rng)
	if r.Cell == nil {
		return noun
	}
	name := r.Cell.Zh()
	if *r.Cell == 4 {
		name = capPick(rng, "中央", "中间")
	}
	return capPick(rng, "", "画面") + name + "的" + noun
}

func capZhRelWord(k RelationKind, rng *rand.Rand) string {
	switch k {
	case LeftOf:
		return capPick(rng, "左边", "左侧", "左面")
	case RightOf:
		return capPick(rng, "右边", "右侧", "右面")
	case Above:
		return capPick(rng, "上方", "上面", "上边")
	}
	return capPick(rng, "下方", "下面", "下边")
}

// capZhRelWords is one relation word, or two joined; a horizontal and a vertical one may also merge
// into a diagonal ("左上方").
func capZhRelWords(kinds []RelationKind, rng *rand.Rand) string {
	if len(kinds) == 2 && rng.IntN(2) == 0 {
		h, v := kinds[0], kinds[1]
		if h == Above || h == Below {
			h, v = v, h
		}
		hz := map[RelationKind]string{LeftOf: "左", RightOf: "右"}[h]
		vz := map[RelationKind]string{Above: "上方", Below: "下方"}[v]
		return hz + vz
	}
	words := make([]string, len(kinds))
	for i, k := range kinds {
		words[i] = capZhRelWord(k, rng)
	}
	return strings.Join(words, capPick(rng, "和", "、"))
}

func capZhRelSentence(r capRel, rng *rand.Rand) string {
	subj, obj, kinds := capOrient(r, rng)
	rel := capZhRelWords(kinds, rng)
	switch rng.IntN(3) {
	case 0:
		return capZhRef(obj, rng) + "的" + rel + "是" + capZhRef(subj, rng) + "。"
	case 1:
		return capZhRef(subj, rng) + "位于" + capZhRef(obj, rng) + "的" + rel + "。"
	}
	return capZhRef(subj, rng) + "在" + capZhRef(obj, rng) + "的" + rel + "。"
}

// capZhStyle is the render style and its measure word: "幅" for a picture, "张" for a photo.
func capZhStyle(d Domain, rng *rand.Rand) (style, measure string) {
	if d == Photo {
		return capPick(rng, "照片", "写实照片", "摄影照片"), "张"
	}
	return capPick(rng, "扁平插画", "扁平风格的插画", "矢量扁平插画"), "幅"
}

func capZhCount(n int, rng *rand.Rand) string {
	if n == 1 {
		return capPick(rng, "只有一个物体", "画面中仅有一个图形", "只有一个图形")
	}
	num := capZhNumber(n)
	return capPick(rng, "共有"+num+"个物体", "画面中共有"+num+"个图形", "一共有"+num+"个形状")
}

// capZhEntries places a group of k ≥ 2: "都位于左上角" or "，一个位于左上角，另一个位于下方".
func capZhEntries(g capGroup, rng *rand.Rand) string {
	if len(g.cells) == 1 {
		return capPick(rng, "都", "均", "都") + capPick(rng, "位于", "在") + capZhPlace(g.cells[0].cell, rng)
	}
	cells := capShuffled(rng, g.cells)
	parts := make([]string, len(cells))
	left := g.k
	for i, cc := range cells {
		var q string
		switch {
		case cc.m > 1:
			q = capZhNumber(cc.m) + "个"
		case i == 0:
			q = capPick(rng, "一个", "其中一个")
		case left == 1 && g.k == 2:
			q = "另一个"
		default:
			q = capPick(rng, "一个", "还有一个", "另一个")
		}
		left -= cc.m
		parts[i] = q + capPick(rng, "位于", "在") + capZhPlace(cc.cell, rng)
	}
	return "，" + strings.Join(parts, "，")
}

// capZhGroupPhrase is a group as a phrase, with its positions when the plan has them.
func capZhGroupPhrase(g capGroup, withPos bool, rng *rand.Rand) string {
	np := capZhIndef(g.ref(), g.k, rng)
	if !withPos {
		return np
	}
	if g.k == 1 {
		if rng.IntN(2) == 0 {
			return capZhPlace(g.cells[0].cell, rng) + "有" + np
		}
		return np + capPick(rng, "位于", "在") + capZhPlace(g.cells[0].cell, rng)
	}
	if len(g.cells) == 1 && rng.IntN(2) == 0 {
		return capZhPlace(g.cells[0].cell, rng) + "有" + np
	}
	return np + capZhEntries(g, rng)
}

func capZhGroupSentence(g capGroup, rng *rand.Rand) string {
	if g.k == 1 && rng.IntN(3) == 0 {
		return "在" + capZhPlace(g.cells[0].cell, rng) + "可以看到" + capZhIndef(g.ref(), 1, rng) + "。"
	}
	return capZhGroupPhrase(g, true, rng) + "。"
}

func capZhJoin(parts []string, rng *rand.Rand) string {
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], "、") + capPick(rng, "和", "以及", "与") + parts[len(parts)-1]
}

func capRealiseZh(p capPlan, rng *rand.Rand) string {
	groups := capShuffled(rng, p.groups)
	bg := p.bg.Zh()
	switch p.form {
	case capFormTag:
		var tags []string
		for _, g := range groups {
			if g.k == 1 {
				tags = append(tags, capZhNoun(g.ref(), rng))
			} else {
				tags = append(tags, capZhIndef(g.ref(), g.k, rng))
			}
		}
		style, _ := capZhStyle(p.domain, rng)
		tags = append(tags, bg+"背景", style)
		return strings.Join(capShuffled(rng, tags), capPick(rng, "，", "、"))
	case capFormBrief:
		var body string
		if len(p.rels) > 0 {
			body = capZhRelSentence(p.rels[0], rng)
		} else {
			parts := make([]string, len(groups))
			for i, g := range groups {
				parts[i] = capZhIndef(g.ref(), g.k, rng)
			}
			body = capPick(rng, "", "画面中有", "图中是") + capZhJoin(parts, rng) + "。"
		}
		if p.domain == Photo {
			return capPick(rng, "一张照片。", "这是一张照片。") + body
		}
		return body
	case capFormShort:
		parts := make([]string, len(groups))
		for i, g := range groups {
			parts[i] = capZhIndef(g.ref(), g.k, rng)
		}
		list := capZhJoin(parts, rng)
		if p.domain == Photo {
			return capPick(rng, "一张照片。", "这是一张照片。") + list + "。"
		}
		switch rng.IntN(3) {
		case 0:
			return list + "。"
		case 1:
			return "画面中有" + list + "。"
		}
		return "图中是" + list
	case capFormMedium:
		parts := make([]string, len(groups))
		for i, g := range groups {
			parts[i] = capZhGroupPhrase(g, true, rng)
		}
		list := strings.Join(parts, "；")
		switch rng.IntN(3) {
		case 0:
			return bg + "背景上，" + list + "。"
		case 1:
			return list + "。背景是" + bg + "。"
		}
		return "在" + bg + "背景上：" + list + "。"
	case capFormStyle:
		style, measure := capZhStyle(p.domain, rng)
		if rng.IntN(2) == 0 {
			return "这是一" + measure + style + "，背景为" + bg + "，" + capZhCount(p.n, rng) + "。"
		}
		return "风格：" + style + "；" + bg + "背景；" + capZhCount(p.n, rng) + "。"
	case capFormMain:
		o := p.main
		r := ObjectRef{Colour: Ptr(o.Colour), Shape: Ptr(o.Shape), Size: Ptr(o.Size)}
		if rng.IntN(2) == 0 {
			return "画面的主体是" + capZhIndef(r, 1, rng) + "，位于" + capZhPlace(o.Cell(), rng) + "。"
		}
		return "主要物体是位于" + capPick(rng, "", "画面") + o.Cell().Zh() + "的" + capZhIndef(r, 1, rng) + "。"
	case capFormAll:
		parts := make([]string, len(groups))
		for i, g := range groups {
			parts[i] = capZhIndef(g.ref(), g.k, rng)
		}
		if rng.IntN(2) == 0 {
			return "画面中" + capZhCount(p.n, rng) + "：" + capZhJoin(parts, rng) + "。"
		}
		return capZhJoin(parts, rng) + "。" + capZhCount(p.n, rng) + "。"
	case capFormAttributes:
		parts := make([]string, len(groups))
		for i, g := range groups {
			attrs := []string{"颜色为" + g.colour.Zh(), capPick(rng, "尺寸为", "大小为") + g.size.Zh()}
			parts[i] = capZhNumber(g.k) + "个" + capZhShape(g.shape, rng) + "，" + strings.Join(capShuffled(rng, attrs), "，")
		}
		return capPick(rng, "各物体的属性：", "属性如下：") + strings.Join(parts, "；") + "。"
	case capFormSpatial:
		var ss []string
		for _, g := range groups {
			ss = append(ss, capZhGroupSentence(g, rng))
		}
		for _, r := range capShuffled(rng, p.rels) {
			ss = append(ss, capZhRelSentence(r, rng))
		}
		return strings.Join(ss, "")
	}
	// Detailed.
	style, measure := capZhStyle(p.domain, rng)
	count := capZhCount(p.n, rng)
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
		ss = append(ss, capZhGroupSentence(g, rng))
	}
	for _, r := range capShuffled(rng, p.rels) {
		ss = append(ss, capZhRelSentence(r, rng))
	}
	if !bgSaid {
		bgs := capPick(rng, "背景是"+bg+"的。", "背景为"+bg+"。", "整体为"+bg+"背景。")
		at := 1 + rng.IntN(len(ss))
		ss = append(ss[:at], append([]string{bgs}, ss[at:]...)...)
	}
	return strings.Join(ss, "")
}
