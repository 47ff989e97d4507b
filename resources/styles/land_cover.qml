<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22.16-Białowieża" styleCategories="Symbology">
  <pipe-data-defined-properties>
    <Option type="Map">
      <Option type="QString" name="name" value=""/>
      <Option name="properties"/>
      <Option type="QString" name="type" value="collection"/>
    </Option>
  </pipe-data-defined-properties>
  <pipe>
    <provider>
      <resampling zoomedInResamplingMethod="nearestNeighbour" zoomedOutResamplingMethod="nearestNeighbour" enabled="false" maxOversampling="2"/>
    </provider>
    <rasterrenderer type="paletted" band="1" alphaBand="-1" opacity="1" nodataColor="">
      <minMaxOrigin>
        <limits>None</limits>
        <extent>WholeRaster</extent>
        <statAccuracy>Estimated</statAccuracy>
        <cumulativeCutLower>0.02</cumulativeCutLower>
        <cumulativeCutUpper>0.98</cumulativeCutUpper>
        <stdDevFactor>2</stdDevFactor>
      </minMaxOrigin>
      <colorPalette>
        <paletteEntry alpha="255" value="0" color="#282828" label="Unknown"/>
        <paletteEntry alpha="255" value="20" color="#ffbb22" label="Shrubs"/>
        <paletteEntry alpha="255" value="30" color="#ffff4c" label="Herbaceous vegetation"/>
        <paletteEntry alpha="255" value="40" color="#f096ff" label="Cultivated and managed vegetation / agriculture (cropland)"/>
        <paletteEntry alpha="255" value="50" color="#fa0000" label="Urban / built up"/>
        <paletteEntry alpha="255" value="60" color="#b4b4b4" label="Bare / sparse vegetation"/>
        <paletteEntry alpha="255" value="70" color="#f0f0f0" label="Snow and ice"/>
        <paletteEntry alpha="255" value="80" color="#0032c8" label="Permanent water bodies"/>
        <paletteEntry alpha="255" value="90" color="#0096a0" label="Herbaceous wetland"/>
        <paletteEntry alpha="255" value="100" color="#fae6a0" label="Moss and lichen"/>
        <paletteEntry alpha="255" value="111" color="#58481f" label="Closed forest, evergreen needle leaf"/>
        <paletteEntry alpha="255" value="112" color="#009900" label="Closed forest, evergreen broad leaf"/>
        <paletteEntry alpha="255" value="113" color="#70663e" label="Closed forest, deciduous needle leaf"/>
        <paletteEntry alpha="255" value="114" color="#00cc00" label="Closed forest, deciduous broad leaf"/>
        <paletteEntry alpha="255" value="115" color="#4e751f" label="Closed forest, mixed"/>
        <paletteEntry alpha="255" value="116" color="#007800" label="Closed forest, other"/>
        <paletteEntry alpha="255" value="121" color="#666000" label="Open forest, evergreen needle leaf"/>
        <paletteEntry alpha="255" value="122" color="#8db400" label="Open forest, evergreen broad leaf"/>
        <paletteEntry alpha="255" value="123" color="#8d7400" label="Open forest, deciduous needle leaf"/>
        <paletteEntry alpha="255" value="124" color="#a0dc00" label="Open forest, deciduous broad leaf"/>
        <paletteEntry alpha="255" value="125" color="#929900" label="Open forest, mixed"/>
        <paletteEntry alpha="255" value="126" color="#648c00" label="Open forest, other"/>
        <paletteEntry alpha="255" value="200" color="#000080" label="Oceans, seas"/>
      </colorPalette>
    </rasterrenderer>
    <brightnesscontrast brightness="0" contrast="0" gamma="1"/>
    <huesaturation saturation="0" colorizeGreen="128" colorizeBlue="128" colorizeStrength="100" colorizeRed="255" invertColors="0" grayscaleMode="0" colorizeOn="0"/>
    <rasterresampler maxOversampling="2"/>
    <resamplingStage>resamplingFilter</resamplingStage>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
