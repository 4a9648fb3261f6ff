// Rendering: Graphviz (in-process, through libgvc) drawings of attention masks, mask schedules, model graphs
// and the Q-Former's inside, plus cross-attention maps drawn over the image.
//
// The layers, bottom up:
//   Graphviz/  DOT text (`DOTGraph`, escaping), `Graphviz.render` (DOT -> SVG/PNG/PDF in-process), `RenderError`,
//              `RenderOutput` (atomic file writes).
//   Masks/     `MaskGrid` (one cell per token pair, HTML-like table), `MaskGrid.paperMasks` (ITC/ITM/ITG side by
//              side), `TokenGraph` (a node per token, an edge per allowed attention), `ScheduleTimeline`.
//   Models/    `ModelGraph` (frozen vs trainable parts, parameter counts, shapes on edges), built from plain
//              values, from a `Module` tree or from a `Blip2Model`; `QFormerDiagram` (the Q-Former's inside).
//   Attention/ `PNGEncoder` (a dependency-free PNG writer), `CrossAttentionMaps` (each query's heat map over the
//              image, as SVG with embedded PNG tiles, or PNG/PDF through Graphviz).
