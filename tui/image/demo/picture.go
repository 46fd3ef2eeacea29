package main

import (
	"flag"
	"fmt"
	"image"

	"github.com/lumina-workbench/lumina/data"
)

var photo = flag.Bool("photo", false, "render the scene in the shaded \"photo\" domain instead of flat")

// picture is a fixed scene of the procedural world rendered at 64×64, the
// size the workbench's small presets sample at.
func picture() (image.Image, error) {
	s := data.Scene{
		Background: data.Gray,
		Domain:     data.Flat,
		Objects: []data.Object{
			{Shape: data.Circle, Colour: data.Red, Size: data.Large, X: 0.3, Y: 0.3},
			{Shape: data.Square, Colour: data.Yellow, Size: data.Medium, X: 0.75, Y: 0.72},
			{Shape: data.Triangle, Colour: data.Blue, Size: data.Medium, X: 0.25, Y: 0.78},
		},
	}
	if *photo {
		s.Domain = data.Photo
	}
	img, err := data.Render(s, 64, 64)
	if err != nil {
		return nil, fmt.Errorf("render demo scene: %w", err)
	}
	return img, nil
}
