<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis styleCategories="Symbology" version="3.22.16-Białowieża">
  <pipe-data-defined-properties>
    <Option type="Map">
      <Option type="QString" name="name" value=""/>
      <Option name="properties"/>
      <Option type="QString" name="type" value="collection"/>
    </Option>
  </pipe-data-defined-properties>
  <pipe>
    <provider>
      <resampling maxOversampling="2" zoomedInResamplingMethod="nearestNeighbour" zoomedOutResamplingMethod="nearestNeighbour" enabled="false"/>
    </provider>
    <rasterrenderer opacity="1" alphaBand="-1" type="paletted" band="1" nodataColor="">
      <minMaxOrigin>
        <limits>None</limits>
        <extent>WholeRaster</extent>
        <statAccuracy>Estimated</statAccuracy>
        <cumulativeCutLower>0.02</cumulativeCutLower>
        <cumulativeCutUpper>0.98</cumulativeCutUpper>
        <stdDevFactor>2</stdDevFactor>
      </minMaxOrigin>
      <colorPalette>
        <paletteEntry color="#282828" label="Unknown" value="0" alpha="255"/>
        <paletteEntry color="#ffbb22" label="Shrubs" value="20" alpha="255"/>
        <paletteEntry color="#ffff4c" label="Herbaceous vegetation" value="30" alpha="255"/>
        <paletteEntry color="#f096ff" label="Cultivated and managed vegetation / agriculture (cropland)" value="40" alpha="255"/>
        <paletteEntry color="#fa0000" label="Urban / built up" value="50" alpha="255"/>
        <paletteEntry color="#b4b4b4" label="Bare / sparse vegetation" value="60" alpha="255"/>
        <paletteEntry color="#f0f0f0" label="Snow and ice" value="70" alpha="255"/>
        <paletteEntry color="#0032c8" label="Permanent water bodies" value="80" alpha="255"/>
        <paletteEntry color="#0096a0" label="Herbaceous wetland" value="90" alpha="255"/>
        <paletteEntry color="#fae6a0" label="Moss and lichen" value="100" alpha="255"/>
        <paletteEntry color="#58481f" label="Closed forest, evergreen needle leaf" value="111" alpha="255"/>
        <paletteEntry color="#009900" label="Closed forest, evergreen broad leaf" value="112" alpha="255"/>
        <paletteEntry color="#70663e" label="Closed forest, deciduous needle leaf" value="113" alpha="255"/>
        <paletteEntry color="#00cc00" label="Closed forest, deciduous broad leaf" value="114" alpha="255"/>
        <paletteEntry color="#4e751f" label="Closed forest, mixed" value="115" alpha="255"/>
        <paletteEntry color="#007800" label="Closed forest, other" value="116" alpha="255"/>
        <paletteEntry color="#666000" label="Open forest, evergreen needle leaf" value="121" alpha="255"/>
        <paletteEntry color="#8db400" label="Open forest, evergreen broad leaf" value="122" alpha="255"/>
        <paletteEntry color="#8d7400" label="Open forest, deciduous needle leaf" value="123" alpha="255"/>
        <paletteEntry color="#a0dc00" label="Open forest, deciduous broad leaf" value="124" alpha="255"/>
        <paletteEntry color="#929900" label="Open forest, mixed" value="125" alpha="255"/>
        <paletteEntry color="#648c00" label="Open forest, other" value="126" alpha="255"/>
        <paletteEntry color="#000080" label="Oceans, seas" value="200" alpha="255"/>
      </colorPalette>
    </rasterrenderer>
    <brightnesscontrast gamma="1" brightness="0" contrast="0"/>
    <huesaturation invertColors="0" grayscaleMode="0" colorizeGreen="128" colorizeOn="0" saturation="0" colorizeStrength="100" colorizeBlue="128" colorizeRed="255"/>
    <rasterresampler maxOversampling="2"/>
    <resamplingStage>resamplingFilter</resamplingStage>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
